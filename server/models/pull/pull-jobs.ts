// Pulls started through the API. A pull is a long download on the API node, not inference:
// it runs here on the event loop (streamed I/O), never in an execution worker, so it neither
// occupies an inference slot nor lands on a scale-out worker's disk. Jobs have the status
// shape of runs (queued/running/succeeded/failed/cancelled) and publish `pull:*` events that
// the websocket hub relays. Two requests for the same pull share one job, hence one download.
// Jobs live in memory: after a restart a pull is started again and resumes from its staged bytes.
import { randomBytes } from 'node:crypto';
import { NodeError } from '../../engine/errors.js';
import type { Logger } from '../../log.js';
import { redactUrl } from './names.js';
import { pullModel, type PullProgress, type PullRequest, type PullResult, type PullSettings } from './pull.js';

export type PullStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface PullJob {
  id: string;
  request: PullRequest;
  status: PullStatus;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  progress?: PullProgress;
  result?: PullResult;
  error?: { code: string; message: string; [k: string]: unknown };
}

export type PullEvent =
  | { type: 'pull:progress'; runId: string; progress: PullProgress }
  | { type: 'pull:done'; runId: string; result: PullResult }
  | { type: 'pull:error'; runId: string; error: NonNullable<PullJob['error']> }
  | { type: 'pull:cancelled'; runId: string };

export interface PullJobsOptions {
  settings: PullSettings;
  logger?: Logger;
  /** Pulls downloading at once; later ones wait `queued`. */
  concurrency?: number;
  /** Finished jobs kept for status queries. */
  keepFinished?: number;
  /** Least time between two progress events of one job. */
  progressIntervalMs?: number;
  /** Called after a model was installed (refresh model listings). */
  onInstalled?: (r: PullResult) => void;
}

/** Identity of a pull: same source (revision included), file, name and components = same job. */
function keyOf(r: PullRequest): string {
  return JSON.stringify([r.source.trim(), r.file ?? '', r.name ?? '', [...(r.include ?? [])].sort(), r.sha256 ?? '']);
}

export class PullJobs {
  private readonly jobs = new Map<string, PullJob>();
  private readonly active = new Map<string, string>(); // key -> job id
  private readonly controllers = new Map<string, AbortController>();
  private readonly waiting: string[] = [];
  private readonly listeners = new Set<(e: PullEvent) => void>();
  private running = 0;
  private closed = false;

  constructor(private readonly opts: PullJobsOptions) {}

  /** Starts a pull, or returns the unfinished job already pulling the same thing (`shared`). */
  start(request: PullRequest): { job: PullJob; shared: boolean } {
    if (this.closed) throw new NodeError('shutting_down', 'the server is shutting down');
    const key = keyOf(request);
    const existing = this.active.get(key);
    if (existing) return { job: this.jobs.get(existing)!, shared: true };
    const job: PullJob = { id: randomBytes(16).toString('hex'), request, status: 'queued', createdAt: Date.now() };
    this.jobs.set(job.id, job);
    this.active.set(key, job.id);
    this.waiting.push(job.id);
    this.pump();
    this.trim();
    return { job, shared: false };
  }

  get(id: string): PullJob | undefined {
    return this.jobs.get(id);
  }

  list(): PullJob[] {
    return [...this.jobs.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Names unfinished pulls install under (explicit, or a Hub repo's name): DELETE refuses them. */
  busyNames(): Set<string> {
    const out = new Set<string>();
    for (const id of this.active.values()) {
      const r = this.jobs.get(id)!.request;
      const repoName = /^[^/:]+\/([^@/]+)/.exec(r.source.trim())?.[1];
      const name = r.name ?? (r.file ? undefined : repoName);
      if (name) out.add(name);
    }
    return out;
  }

  cancel(id: string): 'cancelled' | 'cancelling' | 'finished' | 'unknown' {
    const job = this.jobs.get(id);
    if (!job) return 'unknown';
    if (job.status === 'queued') {
      this.waiting.splice(this.waiting.indexOf(id), 1);
      this.finish(job, 'cancelled');
      return 'cancelled';
    }
    if (job.status === 'running') {
      this.controllers.get(id)?.abort(new NodeError('cancelled', 'the pull was cancelled'));
      return 'cancelling';
    }
    return 'finished';
  }

  subscribe(listener: (e: PullEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when the job has finished. */
  wait(id: string): Promise<PullJob> {
    const job = this.jobs.get(id);
    if (!job) return Promise.reject(new Error(`no pull ${id}`));
    if (job.finishedAt !== undefined) return Promise.resolve(job);
    return new Promise((resolve) => {
      const off = this.subscribe((e) => {
        if (e.runId === id && e.type !== 'pull:progress') {
          off();
          resolve(job);
        }
      });
    });
  }

  /** Cancels running pulls (their staged bytes stay for a resume) and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.controllers.keys()];
    for (const id of [...this.waiting]) this.cancel(id);
    for (const id of running) this.cancel(id);
    await Promise.all(running.map((id) => this.wait(id)));
  }

  private emit(e: PullEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.opts.logger?.warn({ err }, 'pull event listener failed');
      }
    }
  }

  private pump(): void {
    while (this.running < (this.opts.concurrency ?? 2) && this.waiting.length) {
      const job = this.jobs.get(this.waiting.shift()!)!;
      this.running++;
      void this.run(job).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(job: PullJob): Promise<void> {
    const controller = new AbortController();
    this.controllers.set(job.id, controller);
    job.status = 'running';
    job.startedAt = Date.now();
    const interval = this.opts.progressIntervalMs ?? 250;
    let last = 0;
    let lastPhase = '';
    const log = this.opts.logger?.child({ pull: job.id, source: redactUrl(job.request.source) });
    log?.info('pull started');
    try {
      const result = await pullModel(job.request, this.opts.settings, {
        signal: controller.signal,
        onProgress: (p) => {
          job.progress = p;
          const now = Date.now();
          if (now - last >= interval || p.phase !== lastPhase || p.fileBytes === p.fileTotal) {
            last = now;
            lastPhase = p.phase;
            this.emit({ type: 'pull:progress', runId: job.id, progress: p });
          }
        },
      });
      job.result = result;
      log?.info({ name: result.name, format: result.format, bytes: result.bytesDownloaded, alreadyInstalled: result.alreadyInstalled }, 'pull finished');
      this.opts.onInstalled?.(result);
      this.finish(job, 'succeeded');
    } catch (err) {
      if (controller.signal.aborted) this.finish(job, 'cancelled');
      else {
        const e = err instanceof NodeError ? { code: err.code, message: err.message, ...publicDetails(err) } : { code: 'internal', message: 'the pull failed' };
        if (!(err instanceof NodeError)) log?.error({ err }, 'pull failed');
        else log?.warn({ code: err.code, message: err.message }, 'pull failed');
        job.error = e;
        this.finish(job, 'failed');
      }
    } finally {
      this.controllers.delete(job.id);
    }
  }

  private finish(job: PullJob, status: 'succeeded' | 'failed' | 'cancelled'): void {
    job.status = status;
    job.finishedAt = Date.now();
    this.active.delete(keyOf(job.request));
    if (status === 'succeeded') this.emit({ type: 'pull:done', runId: job.id, result: job.result! });
    else if (status === 'failed') this.emit({ type: 'pull:error', runId: job.id, error: job.error! });
    else this.emit({ type: 'pull:cancelled', runId: job.id });
  }

  private trim(): void {
    const keep = this.opts.keepFinished ?? 100;
    const finished = this.list().filter((j) => j.finishedAt !== undefined);
    for (const j of finished.slice(keep)) this.jobs.delete(j.id);
  }
}

/** Error details a client may see (field names, choices), not stack traces or paths. */
function publicDetails(err: NodeError): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const { param, choices, file } = err.details as { param?: unknown; choices?: unknown; file?: unknown };
  if (typeof param === 'string') out.field = param;
  if (Array.isArray(choices)) out.choices = choices;
  if (typeof file === 'string') out.file = file;
  return out;
}
