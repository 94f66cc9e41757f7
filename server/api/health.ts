// GET /health: answers from in-memory state only (no disk, no worker round trip), so it
// stays fast while a job runs.
import { Router } from 'express';
import type { AppDeps } from './context.js';

export function healthRoutes(deps: AppDeps): Router {
  const r = Router();
  r.get('/health', (_req, res) => {
    const workers = deps.health.workers();
    const q = deps.queue.stats();
    const models = deps.health.models();
    const ok = workers.some((w) => w.state === 'idle' || w.state === 'busy');
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'degraded',
      version: deps.versions.maskflow,
      uptime_s: Math.round((Date.now() - (deps.startedAt ?? Date.now())) / 1000),
      models: models.map((m) => ({ name: m.name, complete: m.complete, format: m.format, ...(m.kind ? { kind: m.kind } : {}), ...(m.error ? { error: m.error } : {}) })),
      default_model: deps.config.defaultModel ?? models[0]?.name ?? null,
      execution_provider: deps.health.executionProvider(),
      queue: { depth: q.queued, running: q.running, capacity: q.capacity, max: q.maxQueue },
      workers: workers.map((w) => ({
        ...(w.id ? { id: w.id, slots: w.slots } : {}),
        state: w.state,
        restarts: w.restarts,
        ...(w.runId ? { job: w.runId } : {}),
        ...(w.runs ? { jobs: w.runs } : {}),
        ...(w.host ? { host: w.host } : {}),
        ...(w.lastHeartbeat ? { last_heartbeat: new Date(w.lastHeartbeat).toISOString() } : {}),
      })),
      auth: deps.config.apiKeys.length > 0,
      ...(deps.health.extras?.() ?? {}),
    });
  });
  return r;
}
