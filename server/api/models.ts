// Models: GET /v1/models (installed, with kind, format, size, source), POST /v1/models/pull
// (a pull job; progress over the websocket as pull:* events), GET /v1/models/pulls[/{id}],
// POST /v1/models/pulls/{id}/cancel, DELETE /v1/models/{name}. All need an API key when keys are set.
import { Type, type Static } from '@sinclair/typebox';
import { Router, type Request } from 'express';
import { NodeError } from '../engine/errors.js';
import { HttpError, notFound } from '../http-errors.js';
import { deleteInstalled, listInstalled } from '../models/installed.js';
import { catalogFor } from '../models/catalog.js';
import { parseRepoRef } from '../models/pull/hub.js';
import type { PullJob, PullJobs } from '../models/pull/pull-jobs.js';
import { redactUrl, validateModelName } from '../models/pull/names.js';
import { OPTIONAL_COMPONENTS } from '../models/pull/select-files.js';
import { baseUrl, type AppDeps } from './context.js';
import { assertSafeUrl } from './sources.js';
import { compileBody } from './validation.js';
import { attentionCacheDir, removeOrphanedFusedAttention } from '../models/fused-attention-source.js';

export const PullRequestSchema = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 2048, description: 'A Hugging Face Hub repo id `owner/name[@revision]`, or an https URL of a .safetensors file.' }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Installed name (default: the repo name or the file name).' })),
    file: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'One .safetensors file of the repo, installed as a single-file checkpoint.' })),
    include: Type.Optional(Type.Array(Type.String({ enum: OPTIONAL_COMPONENTS }), { maxItems: 3, description: 'Optional diffusers components to download too.' })),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Expected sha256 of a URL download.' })),
  },
  { additionalProperties: false, $id: 'PullRequest', title: 'PullRequest' },
);
type PullBody = Static<typeof PullRequestSchema>;

export function pullView(job: PullJob, base: string) {
  const p = job.progress;
  return {
    id: job.id,
    kind: 'pull',
    status: job.status,
    source: redactUrl(job.request.source),
    ...(job.request.name ? { name: job.request.name } : {}),
    created_at: new Date(job.createdAt).toISOString(),
    ...(job.startedAt ? { started_at: new Date(job.startedAt).toISOString() } : {}),
    ...(job.finishedAt ? { finished_at: new Date(job.finishedAt).toISOString() } : {}),
    ...(p
      ? {
          progress: {
            phase: p.phase,
            ...(p.file ? { file: p.file } : {}),
            file_index: p.fileIndex,
            file_count: p.fileCount,
            file_bytes: p.fileBytes,
            ...(p.fileTotal !== undefined ? { file_total: p.fileTotal } : {}),
            bytes: p.bytes,
            ...(p.total !== undefined ? { total: p.total } : {}),
          },
        }
      : {}),
    ...(job.result
      ? {
          result: {
            name: job.result.name,
            format: job.result.format,
            already_installed: job.result.alreadyInstalled,
            bytes_downloaded: job.result.bytesDownloaded,
            resumed_bytes: job.result.resumedBytes,
            source: job.result.source,
            files: job.result.files,
          },
        }
      : {}),
    ...(job.error ? { error: job.error } : {}),
    status_url: `${base}/v1/models/pulls/${job.id}`,
  };
}

/** Problems a client can fix, answered before a job exists (network answers come in the job). */
async function precheck(deps: AppDeps, body: PullBody): Promise<void> {
  const src = body.source.trim();
  if (/^https?:\/\//i.test(src)) {
    if (!/^https?:\/\/[^/]+\//i.test(`${src}/`)) throw new HttpError(422, 'invalid_url', 'source is not a valid URL', 'source');
    if (body.file !== undefined) throw new HttpError(422, 'invalid_value', '"file" applies to Hub repos only; a URL is one file', 'file');
    await assertSafeUrl(src, 'source', { allowlist: deps.config.urlAllowlist, resolve: deps.resolve });
  } else if (!parseRepoRef(src)) {
    throw new HttpError(422, 'invalid_source', 'source must be a Hub repo id (owner/name[@revision]) or an http(s) URL', 'source');
  }
  if (body.name !== undefined) {
    try {
      validateModelName(body.name);
    } catch (e) {
      throw new HttpError(422, 'invalid_name', (e as Error).message, 'name');
    }
  }
}

function pullsOf(deps: AppDeps): PullJobs {
  if (!deps.pulls) throw new HttpError(503, 'unavailable', 'model pulls are not available on this server');
  return deps.pulls;
}

export function modelRoutes(deps: AppDeps): Router {
  const r = Router();
  const validate = compileBody<PullBody>(PullRequestSchema);
  const catalog = () => deps.catalog ?? catalogFor(deps.config);
  const base = (req: Request) => baseUrl(deps, req);

  r.get('/v1/models', async (_req, res) => {
    const models = await listInstalled(deps.config.modelsDir, catalog());
    res.json({ models, default_model: deps.config.defaultModel ?? models[0]?.name ?? null });
  });

  r.post('/v1/models/pull', async (req, res) => {
    const body = validate(req.body);
    await precheck(deps, body);
    const { job, shared } = pullsOf(deps).start({
      source: body.source.trim(),
      ...(body.name ? { name: body.name } : {}),
      ...(body.file ? { file: body.file } : {}),
      ...(body.include ? { include: body.include } : {}),
      ...(body.sha256 ? { sha256: body.sha256 } : {}),
    });
    res.status(shared ? 200 : 202).json({ ...pullView(job, base(req)), shared });
  });

  r.get('/v1/models/pulls', (req, res) => {
    res.json({ pulls: pullsOf(deps).list().map((j) => pullView(j, base(req))) });
  });

  r.get('/v1/models/pulls/:id', (req, res) => {
    const job = pullsOf(deps).get(req.params.id);
    if (!job) throw notFound(`pull "${req.params.id}"`);
    res.json(pullView(job, base(req)));
  });

  r.post('/v1/models/pulls/:id/cancel', (req, res) => {
    const result = pullsOf(deps).cancel(req.params.id);
    if (result === 'unknown') throw notFound(`pull "${req.params.id}"`);
    res.status(202).json({ id: req.params.id, result });
  });

  r.delete('/v1/models/:name', async (req, res) => {
    const { name } = req.params;
    if (deps.pulls?.busyNames().has(name)) throw new HttpError(409, 'pull_in_progress', `model "${name}" is being pulled; cancel the pull first`, 'name');
    try {
      const { format } = await deleteInstalled(deps.config.modelsDir, name);
      // Compiled graphs hard-link the weights: remove them too, or the disk is not freed.
      catalog().removeCompiled(name);
      await removeOrphanedFusedAttention(attentionCacheDir(deps.config.dataDir));
      deps.onModelsChanged?.();
      res.json({ name, format, deleted: true });
    } catch (e) {
      if (e instanceof NodeError && e.code === 'model_not_found') throw notFound(`model "${name}"`);
      if (e instanceof NodeError) throw new HttpError(400, e.code, e.message, 'name');
      throw e;
    }
  });
  return r;
}
