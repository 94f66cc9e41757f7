// POST /v1/internal/files?ext=png — how scale-out workers store outputs on the API node, which
// stays the file server (no shared disk, no S3) — and GET /v1/internal/worker, where a worker
// checks its key before it takes any job. Mounted only when MASKFLOW_REDIS_URL is set;
// behind the API key like every /v1 route. Content types are limited to passive formats, since
// /v1/files serves what was stored under its own type.
import { Router } from 'express';
import { HttpError } from '../http-errors.js';
import { INTERNAL_FILES_PATH, INTERNAL_WORKER_PATH } from '../queue/remote-protocol.js';
import type { AppDeps } from './context.js';
import { collect } from './uploads.js';

const STORABLE = /^(image\/(png|jpeg|webp|gif)|application\/(json|octet-stream|x-safetensors)|text\/plain)$/;

export function internalFileRoutes(deps: AppDeps): Router {
  const r = Router();
  // Reaching this handler means the key passed: the worker may take jobs.
  r.get(INTERNAL_WORKER_PATH, (_req, res) => {
    res.json({ ok: true, version: deps.versions.maskflow ?? null });
  });
  r.post(INTERNAL_FILES_PATH, async (req, res) => {
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!STORABLE.test(contentType)) throw new HttpError(415, 'unsupported_media_type', `outputs of type "${contentType}" cannot be stored`);
    const ext = typeof req.query.ext === 'string' ? req.query.ext : '';
    const data = await collect(req, deps.config.maxBodyBytes);
    if (!data.length) throw new HttpError(400, 'empty_file', 'the file is empty');
    res.status(201).json(await deps.files.save(data, { contentType, ext }));
  });
  return r;
}
