// GET /v1/nodes: the node catalogue (ports and param JSON Schemas) for the editor and clients.
import { Router } from 'express';
import type { AppDeps } from './context.js';

export function nodeRoutes(deps: AppDeps): Router {
  const r = Router();
  // The catalogue never changes while the server runs: build the JSON once.
  let cached: string | undefined;
  r.get('/v1/nodes', (_req, res) => {
    cached ??= JSON.stringify(deps.registry.catalogue());
    res.type('application/json').send(cached);
  });
  return r;
}
