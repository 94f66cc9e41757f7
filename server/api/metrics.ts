// GET /metrics: Prometheus text exposition.
import { Router } from 'express';
import type { AppDeps } from './context.js';

export function metricsRoutes(deps: AppDeps): Router {
  const r = Router();
  r.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4; charset=utf-8').send(deps.metrics.render());
  });
  return r;
}
