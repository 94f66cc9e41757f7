// GET /v1/files/:id — outputs and uploads, addressed by unguessable ids (capability URLs).
import { Router } from 'express';
import { notFound } from '../http-errors.js';
import type { AppDeps } from './context.js';

export function fileRoutes(deps: AppDeps): Router {
  const r = Router();
  r.get('/v1/files/:id', async (req, res) => {
    const id = req.params.id.replace(/\.[a-z0-9]+$/i, '');
    const meta = await deps.files.meta(id);
    const file = meta && (await deps.files.pathOf(id));
    if (!meta || !file) throw notFound(`file "${id}"`);
    res.setHeader('Content-Type', meta.contentType);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
    res.sendFile(file);
  });
  return r;
}
