// Submitting jobs (validation first, durable write, then queue) and presenting them:
// the hosted-API queue status, the generic run view and the inpaint result.
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { validateWorkflow } from '../engine/validate.js';
import type { Problem } from '../engine/errors.js';
import type { Workflow } from '../engine/workflow.js';
import { HttpError } from '../http-errors.js';
import { IdempotencyConflictError, QueueFullError } from '../queue/job-queue.js';
import { stableStringify } from '../engine/cache.js';
import type { JobAttempt, JobKind, JobRecord } from '../queue/job-store.js';
import { baseUrl, fileUrl, withFileUrls, type AppDeps } from './context.js';
import { toDataUri } from '../image/data-uri.js';

export function newJobId(): string {
  // 128 bits: ids double as capabilities for status and result URLs.
  return randomBytes(16).toString('hex');
}

export interface SubmitSpec {
  kind: JobKind;
  workflow: unknown;
  workflowName?: string;
  inputs: Record<string, unknown>;
  params: Record<string, unknown>;
  priority?: number;
  owner?: string;
  /** From idempotencyOf(req). */
  idempotencyKey?: string;
  requestHash?: string;
  webhookUrl?: string;
  seed?: number;
  model?: string;
  /** Maps a validation problem onto a request field (the flat inpaint facade uses it). */
  fieldOf?: (p: Problem) => string | undefined;
}

export function workflowInvalid(problems: Problem[], fieldOf?: (p: Problem) => string | undefined): HttpError {
  const first = problems[0]!;
  const field = fieldOf?.(first);
  return new HttpError(422, 'workflow_invalid', `${field ?? first.path}: ${first.message}`, field, { problems });
}

/**
 * Server limits on any workflow, whatever its nodes: sizes, steps and image counts beyond
 * the configured maxima are refused before queueing (nodes may check again when they run).
 */
export function limitProblems(wf: Workflow, config: AppDeps['config']): Problem[] {
  const limits: Record<string, number> = { width: config.maxSide, height: config.maxSide, steps: config.maxSteps, num_images: config.maxNumImages };
  const problems: Problem[] = [];
  for (const [id, node] of Object.entries(wf.nodes)) {
    for (const [param, max] of Object.entries(limits)) {
      const v = node.params?.[param];
      if (typeof v === 'number' && v > max) {
        problems.push({ nodeId: id, path: `nodes.${id}.params.${param}`, code: 'invalid_param', message: `${param} ${v} exceeds this server's limit of ${max}` });
      }
    }
  }
  return problems;
}

/** Validates the whole graph with its inputs, then stores and queues the job. */
export function submitJob(deps: AppDeps, spec: SubmitSpec): { job: JobRecord; existing: boolean } {
  const { problems, resolved } = validateWorkflow(spec.workflow, deps.registry, { inputs: spec.inputs, maxNodes: deps.config.maxWorkflowNodes });
  if (resolved) problems.push(...limitProblems(resolved, deps.config));
  if (problems.length) throw workflowInvalid(problems, spec.fieldOf);
  try {
    const submitted = deps.queue.submit({
      id: newJobId(),
      kind: spec.kind,
      priority: spec.priority ?? 0,
      owner: spec.owner,
      idempotencyKey: spec.idempotencyKey,
      requestHash: spec.requestHash,
      params: spec.params,
      workflow: spec.workflow,
      workflowName: spec.workflowName,
      inputs: spec.inputs,
      seed: spec.seed,
      model: spec.model,
      versions: deps.versions,
      webhookUrl: spec.webhookUrl,
    });
    if (!submitted.existing) deps.recordHashes?.(submitted.job);
    return submitted;
  } catch (err) {
    if (err instanceof IdempotencyConflictError) {
      throw new HttpError(422, err.code, err.message, 'Idempotency-Key');
    }
    if (err instanceof QueueFullError) {
      throw new HttpError(503, 'queue_full', err.message, undefined, {}, { 'Retry-After': '5' });
    }
    throw err;
  }
}

/**
 * The Idempotency-Key header and, when there is one, a hash of the request as the client sent it
 * (route + body), which tells a retry from the key's reuse for another request. Call it before
 * validation fills defaults in place and a random seed is drawn.
 */
export function idempotencyOf(req: Request): { idempotencyKey?: string; requestHash?: string } {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return {};
  const v = Array.isArray(key) ? key[0]! : key;
  if (!v || v.length > 200) throw new HttpError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1-200 characters', 'Idempotency-Key');
  const requestHash = createHash('sha256').update(`${req.method} ${req.baseUrl}${req.path}\n`).update(stableStringify(req.body ?? null)).digest('hex');
  return { idempotencyKey: v, requestHash };
}

const QUEUE_STATUS = { queued: 'IN_QUEUE', running: 'IN_PROGRESS', succeeded: 'COMPLETED', failed: 'FAILED', cancelled: 'CANCELLED' } as const;

export function queueUrls(base: string, id: string) {
  const root = `${base}/v1/queue/requests/${id}`;
  return { status_url: `${root}/status`, response_url: root, cancel_url: `${root}/cancel` };
}

export function queueStatus(deps: AppDeps, job: JobRecord, base: string) {
  const status = QUEUE_STATUS[job.status];
  const position = deps.queue.position(job.id);
  const progress = deps.queue.progress(job.id);
  return {
    request_id: job.id,
    status,
    ...(status === 'IN_QUEUE' ? { queue_position: position ?? 0 } : {}),
    ...(status === 'IN_PROGRESS'
      ? {
          progress: progress
            ? { node_id: progress.nodeId, step: progress.step, total: progress.total, nodes_done: progress.nodesDone, nodes_total: progress.nodesTotal }
            : { node_id: '', step: 0, total: 0, nodes_done: 0, nodes_total: 0 },
        }
      : {}),
    ...(job.error ? { error: job.error } : {}),
    ...workerView(job),
    response_url: queueUrls(base, job.id).response_url,
  };
}

/** One run of a job as the API shows it. */
function attemptView(a: JobAttempt) {
  return {
    worker: a.worker,
    started_at: new Date(a.startedAt).toISOString(),
    ...(a.endedAt ? { ended_at: new Date(a.endedAt).toISOString() } : {}),
    result: a.outcome ?? 'running',
    ...(a.error ? { error: a.error } : {}),
  };
}

/** The worker of the job's latest run (the one that produced its result once it finished). */
function workerView(job: JobRecord): { worker?: string } {
  const last = job.attemptLog?.findLast((a) => a.outcome !== 'discarded');
  return last ? { worker: last.worker } : {};
}

/** The generic view of a run (workflow runs and, for inspection, inpaint jobs too). */
export function runView(deps: AppDeps, job: JobRecord, base: string) {
  const progress = deps.queue.progress(job.id);
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    ...(job.workflowName ? { workflow: job.workflowName } : {}),
    priority: job.priority,
    created_at: new Date(job.createdAt).toISOString(),
    ...(job.startedAt ? { started_at: new Date(job.startedAt).toISOString() } : {}),
    ...(job.finishedAt ? { finished_at: new Date(job.finishedAt).toISOString() } : {}),
    ...(job.status === 'queued' ? { position: deps.queue.position(job.id) ?? 0 } : {}),
    ...(progress && job.status === 'running' ? { progress } : {}),
    attempts: job.attempts,
    ...workerView(job),
    ...(job.attemptLog?.length ? { attempt_log: job.attemptLog.map(attemptView) } : {}),
    ...(job.seed !== undefined ? { seed: job.seed } : {}),
    ...(job.model ? { model: job.model } : {}),
    ...(job.hashes ? { hashes: job.hashes } : {}),
    ...(job.versions ? { versions: job.versions } : {}),
    ...(job.outputs ? { outputs: withFileUrls(job.outputs, base) } : {}),
    ...(job.timings ? { timings: job.timings } : {}),
    ...(job.error ? { error: job.error } : {}),
    status_url: `${base}/v1/runs/${job.id}`,
  };
}

interface ImageRecord {
  id: string;
  width?: number;
  height?: number;
  contentType?: string;
  content_type?: string;
  nsfw?: boolean;
  has_nsfw_concept?: boolean;
}

function findImages(outputs: Record<string, Record<string, unknown>>): ImageRecord[] {
  for (const ui of Object.values(outputs)) {
    const imgs = ui.images;
    if (Array.isArray(imgs) && imgs.every((i) => i && typeof (i as ImageRecord).id === 'string')) return imgs as ImageRecord[];
  }
  return [];
}

function findUiValue<T>(outputs: Record<string, Record<string, unknown>>, key: string, check: (v: unknown) => boolean): T | undefined {
  for (const ui of Object.values(outputs)) if (check(ui[key])) return ui[key] as T;
  return undefined;
}

/** The /v1/inpaint response for a succeeded job. */
export async function inpaintResult(deps: AppDeps, job: JobRecord, req: Request | undefined, syncMode: boolean) {
  const outputs = (job.outputs ?? {}) as Record<string, Record<string, unknown>>;
  const base = baseUrl(deps, req);
  const images = findImages(outputs);
  const out = [];
  for (const img of images) {
    const contentType = img.contentType ?? img.content_type ?? 'image/png';
    let url = fileUrl(base, img.id);
    if (syncMode) {
      const file = await deps.files.read(img.id);
      if (file) url = toDataUri(file.data, file.contentType);
    }
    out.push({ url, width: img.width ?? 0, height: img.height ?? 0, content_type: contentType });
  }
  const flags = findUiValue<boolean[]>(outputs, 'has_nsfw_concepts', (v) => Array.isArray(v));
  const skipped = findUiValue<string>(outputs, 'safety_skipped', (v) => typeof v === 'string');
  const checked = findUiValue<boolean[]>(outputs, 'safety_checked', (v) => Array.isArray(v));
  const perImage = images.map((img) => img.nsfw ?? img.has_nsfw_concept);
  const hasNsfw = flags ?? (perImage.every((v) => typeof v === 'boolean') && images.length ? (perImage as boolean[]) : images.map(() => false));
  const safetyChecked = checked ?? (flags || perImage.some((v) => typeof v === 'boolean') ? images.map(() => true) : images.map(() => false));
  const prompt =
    findUiValue<string>(outputs, 'expanded_prompt', (v) => typeof v === 'string') ?? (typeof job.params.prompt === 'string' ? job.params.prompt : '');
  const queueMs = job.startedAt !== undefined ? job.startedAt - job.createdAt : 0;
  return {
    images: out,
    seed: job.seed ?? 0,
    has_nsfw_concepts: hasNsfw,
    safety_checked: safetyChecked,
    ...(skipped ? { safety_skipped: skipped } : !flags && !checked ? { safety_skipped: 'not_in_workflow' } : {}),
    prompt,
    timings: { queue_ms: queueMs, inference_ms: Math.round(job.timings?.total ?? 0), nodes_ms: roundAll(job.timings?.nodes ?? {}) },
    request_id: job.id,
  };
}

const roundAll = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 10) / 10]));

/** Status code for a failed job's error when a caller waited for it synchronously. */
export function failureStatus(job: JobRecord, fieldOf: (e: NonNullable<JobRecord['error']>) => string | undefined = (e) => e.param ?? e.input): HttpError {
  const e = job.error ?? { code: 'internal', message: 'job failed' };
  if (job.status === 'cancelled') return new HttpError(409, 'cancelled', 'the request was cancelled', undefined, { request_id: job.id });
  const clientError = e.input !== undefined || e.param !== undefined || /^(url_|data_uri|upload_|image_|mask_|model_not_found|lora_|embedding_)/.test(e.code);
  return new HttpError(clientError ? 422 : 500, e.code, e.message, fieldOf(e), { request_id: job.id, ...(e.nodeId ? { node_id: e.nodeId } : {}) });
}
