// The embedded queue: FIFO within priority, bounded, durable through JobStore, feeding
// execution workers. Only as many jobs as there are workers are handed to the pool, so
// ordering, positions and cancellation of waiting jobs stay here.
import type { RunEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { FILE_ID } from '../storage/local-file-store.js';
import type { RunJob } from '../worker/protocol.js';
import type { FinalEvent } from '../worker/pool.js';
import { IdempotencyConflictError, QueueFullError, type CancelResult, type JobProgress, type JobQueue, type QueueListener, type QueueStats, type SubmitResult } from './job-queue.js';
import { diedRuns, upsertAttempt, type JobAttempt, type JobRecord, type JobStatus, type JobStore, type NewJob } from './job-store.js';

/**
 * A run's end as a backend reports it. `requeue`: the run failed because of its worker's own
 * condition (refused key, missing model folder, out of memory), so the job goes back to the
 * queue for another worker instead of failing.
 */
export type BackendFinal = FinalEvent & { requeue?: boolean };

/** A final result that arrived for a job already finished by an earlier run (a duplicate run). */
export interface OrphanResult {
  final: FinalEvent;
  attempt: JobAttempt;
}

/** The part of WorkerPool the queue uses. */
export interface ExecutionBackend {
  readonly capacity: number;
  /**
   * Remote backends run jobs in other processes: runs outlive a restart of this one (a running job
   * is re-attached, not run again) and the backend reports each run through `onAttempt`.
   */
  readonly remote?: boolean;
  run(job: RunJob, onEvent: (e: RunEvent) => void, onAttempt?: (a: JobAttempt) => void): Promise<BackendFinal>;
  cancel(runId: string): boolean;
  /** For backends whose capacity changes (remote workers come and go): called on every change. */
  onCapacity?(listener: () => void): void;
  /** Results of duplicate runs, reported after the job's first result was taken. */
  onOrphan?(listener: (runId: string, orphan: OrphanResult) => void): void;
}

export interface LocalQueueOptions {
  maxQueue: number;
  /** A job interrupted by a restart this many times is failed instead of run again. */
  maxAttempts?: number;
  metrics?: Metrics;
  logger?: Logger;
  /** Deletes stored output files (those of a duplicate run whose result was discarded). */
  deleteFiles?: (ids: string[]) => Promise<void>;
}

interface Running {
  job: JobRecord;
  progress?: JobProgress;
  nodesTotal: number;
  nodesDone: number;
  lastStepAt?: number;
  /** Set when its runs died too often: a cancel is under way and the job ends failed with this. */
  failWith?: { code: string; message: string };
}

/** Stored-file ids referenced anywhere in run outputs. */
function fileIdsOf(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) fileIdsOf(x, out);
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.id === 'string' && FILE_ID.test(o.id) && ('filename' in o || 'contentType' in o || 'content_type' in o)) out.add(o.id);
    for (const x of Object.values(o)) fileIdsOf(x, out);
  }
  return out;
}

const ATTEMPT_OUTCOME = { 'run:done': 'succeeded', 'run:error': 'failed', 'run:cancelled': 'cancelled' } as const;
const EMBEDDED = 'embedded';

const STATUS_OF: Record<FinalEvent['type'], JobStatus> = { 'run:done': 'succeeded', 'run:error': 'failed', 'run:cancelled': 'cancelled' };

export class LocalQueue implements JobQueue {
  private readonly pending: JobRecord[] = [];
  private readonly running = new Map<string, Running>();
  private readonly waiters = new Map<string, Array<(job: JobRecord) => void>>();
  private readonly listeners = new Set<QueueListener>();
  private closing = false;
  private started = false;
  private readonly log: Logger;

  constructor(
    private readonly store: JobStore,
    private readonly backend: ExecutionBackend,
    private readonly opts: LocalQueueOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
    backend.onCapacity?.(() => this.dispatch());
    backend.onOrphan?.((runId, orphan) => this.discardDuplicate(runId, orphan));
  }

  private get maxAttempts(): number {
    return this.opts.maxAttempts ?? 3;
  }

  async start(): Promise<void> {
    for (let job of this.store.unfinished()) {
      if (job.status === 'running' && this.backend.remote) {
        // Its run goes on in a worker process: re-attach to it; a restart of this node is no attempt.
        this.launch(job, false);
        this.log.info({ jobId: job.id }, 're-attached to a remote running job');
        continue;
      }
      if (job.status === 'running') {
        // Embedded runs die with this process: close the open run as interrupted.
        const open = job.attemptLog?.find((a) => a.outcome === undefined) ?? { worker: EMBEDDED, startedAt: job.startedAt ?? job.createdAt };
        job = this.recordAttempt(job, { ...open, endedAt: Date.now(), outcome: 'interrupted', error: 'the server stopped while this job was running' });
        const died = diedRuns(job.attemptLog);
        if (died >= this.maxAttempts) {
          const error = { code: 'interrupted', message: `the server stopped while this job was running (${died} times); it is not retried again` };
          this.store.finish(job.id, 'failed', { error });
          this.log.warn({ jobId: job.id, attempts: died }, 'job interrupted too often; marked failed');
          continue;
        }
        this.store.requeue(job.id);
      }
      this.insertPending({ ...job, status: 'queued' });
      this.log.info({ jobId: job.id, was: job.status }, 'recovered unfinished job');
    }
    this.started = true;
    this.dispatch();
  }

  submit(spec: NewJob): SubmitResult {
    if (spec.idempotencyKey) {
      const existing = this.store.findByIdempotencyKey(spec.owner, spec.idempotencyKey);
      if (existing) {
        if (existing.requestHash && spec.requestHash && existing.requestHash !== spec.requestHash) {
          throw new IdempotencyConflictError(spec.idempotencyKey, existing.id);
        }
        return { job: existing, existing: true };
      }
    }
    if (this.pending.length >= this.opts.maxQueue) throw new QueueFullError(this.opts.maxQueue);
    const job = this.store.insert(spec);
    this.insertPending(job);
    this.emit({ type: 'run:queued', runId: job.id, position: this.position(job.id) ?? 0 }, job);
    this.dispatch();
    return { job, existing: false };
  }

  get(id: string): JobRecord | undefined {
    return this.running.get(id)?.job ?? this.pending.find((j) => j.id === id) ?? this.store.get(id);
  }

  recent(limit: number, owner?: string): JobRecord[] {
    return this.store.recent(limit, owner).map((j) => this.running.get(j.id)?.job ?? j);
  }

  active(): JobRecord[] {
    return [...[...this.running.values()].map((r) => r.job), ...this.pending];
  }

  position(id: string): number | undefined {
    const i = this.pending.findIndex((j) => j.id === id);
    return i >= 0 ? i : undefined;
  }

  progress(id: string): JobProgress | undefined {
    return this.running.get(id)?.progress;
  }

  cancel(id: string): CancelResult {
    const i = this.pending.findIndex((j) => j.id === id);
    if (i >= 0) {
      const [job] = this.pending.splice(i, 1);
      this.finish(job!, { type: 'run:cancelled', runId: id });
      return 'cancelled';
    }
    if (this.running.has(id)) {
      this.backend.cancel(id);
      return 'cancelling';
    }
    return this.store.get(id) ? 'finished' : 'unknown';
  }

  wait(id: string): Promise<JobRecord> {
    const job = this.get(id);
    if (!job) return Promise.reject(new Error(`unknown job ${id}`));
    if (job.status !== 'queued' && job.status !== 'running') return Promise.resolve(job);
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  subscribe(listener: QueueListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): QueueStats {
    return { queued: this.pending.length, running: this.running.size, capacity: this.backend.capacity, maxQueue: this.opts.maxQueue };
  }

  async close(): Promise<void> {
    this.closing = true;
  }

  /** Keeps `pending` sorted by priority (high first), then submission order. */
  private insertPending(job: JobRecord): void {
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1]!.priority < job.priority) i--;
    this.pending.splice(i, 0, job);
  }

  private dispatch(): void {
    if (!this.started || this.closing) return;
    while (this.running.size < this.backend.capacity && this.pending.length) {
      const job = this.pending.shift()!;
      const now = Date.now();
      this.store.markRunning(job.id, now);
      this.opts.metrics?.queueWait.observe({ kind: job.kind }, (now - job.createdAt) / 1000);
      this.launch({ ...job, status: 'running', startedAt: now }, true);
    }
  }

  /** Hands a running job to the backend (`fresh`: a new dispatch, not a re-attach after a restart). */
  private launch(job: JobRecord, fresh: boolean): void {
    const entry: Running = { job, nodesTotal: 0, nodesDone: 0 };
    this.running.set(job.id, entry);
    // Embedded runs start when dispatched; remote backends report the runs their workers start.
    if (fresh && !this.backend.remote) entry.job = this.recordAttempt(entry.job, { worker: EMBEDDED, startedAt: job.startedAt ?? Date.now() });
    // A worker that failed this job for its own condition is passed over while another one is up.
    const avoidWorkers = [...new Set((job.attemptLog ?? []).filter((a) => a.outcome === 'requeued').map((a) => a.worker))];
    this.backend
      .run(
        { runId: job.id, workflow: job.workflow, inputs: job.inputs, ...(avoidWorkers.length ? { avoidWorkers } : {}) },
        (e) => this.onEvent(entry, e),
        (a) => this.onAttempt(entry, a),
      )
      .then((final) => this.onFinal(entry, final))
      .catch((err: unknown) => this.onFinal(entry, { type: 'run:error', runId: job.id, error: { code: 'internal', message: String(err) } }));
  }

  /** Stores a run report; returns the job with its updated history. */
  private recordAttempt(job: JobRecord, a: JobAttempt): JobRecord {
    const before = job.attemptLog?.find((x) => x.worker === a.worker && x.startedAt === a.startedAt);
    const attemptLog = upsertAttempt(job.attemptLog ?? [], a);
    this.store.setAttempts(job.id, attemptLog);
    if (a.outcome === 'lost' && before?.outcome !== 'lost') this.opts.metrics?.workerLosses.inc();
    return { ...job, attemptLog, attempts: attemptLog.length };
  }

  private onAttempt(entry: Running, a: JobAttempt): void {
    if (this.closing || this.running.get(entry.job.id) !== entry) return;
    entry.job = this.recordAttempt(entry.job, a);
    const died = diedRuns(entry.job.attemptLog);
    if (a.outcome === 'lost') {
      this.log.warn({ jobId: entry.job.id, worker: a.worker, died }, 'a run of this job was lost with its worker');
      if (died >= this.maxAttempts && !entry.failWith) {
        // BullMQ would run it again: stop that, the job has died often enough.
        entry.failWith = { code: 'worker_lost', message: `the workers running this job stopped responding ${died} time(s) (last: ${a.worker}); it is not retried again` };
        this.backend.cancel(entry.job.id);
      }
    }
  }

  private onEvent(entry: Running, e: RunEvent): void {
    if (this.closing) return;
    const m = this.opts.metrics;
    switch (e.type) {
      case 'run:start':
        // A remote job whose worker died starts over on another worker: count its nodes afresh.
        entry.nodesTotal = e.nodes.length;
        entry.nodesDone = 0;
        entry.progress = undefined;
        break;
      case 'node:cached':
        entry.nodesDone++;
        m?.cacheHits.inc({ node_type: e.nodeType });
        break;
      case 'node:done':
        entry.nodesDone++;
        m?.nodeDuration.observe({ node_type: e.nodeType }, e.ms / 1000);
        break;
      case 'node:progress': {
        const now = performance.now();
        const nodeType = (entry.job.workflow as { nodes?: Record<string, { type?: string }> } | undefined)?.nodes?.[e.nodeId]?.type;
        if (entry.lastStepAt !== undefined && entry.progress?.nodeId === e.nodeId && e.done > entry.progress.step) {
          m?.stepTime.observe({ node_type: nodeType ?? 'unknown' }, (now - entry.lastStepAt) / 1000);
        }
        entry.lastStepAt = now;
        entry.progress = { nodeId: e.nodeId, nodeType, step: e.done, total: e.total, nodesDone: entry.nodesDone, nodesTotal: entry.nodesTotal };
        break;
      }
    }
    if (e.type !== 'node:progress' && entry.progress) entry.progress = { ...entry.progress, nodesDone: entry.nodesDone };
    if (e.type === 'run:done' || e.type === 'run:error' || e.type === 'run:cancelled') return; // handled in onFinal
    this.emit(e, entry.job);
  }

  private onFinal(entry: Running, result: BackendFinal): void {
    // While closing, a terminated worker reports its job as crashed: leave the job `running`
    // in the store so the next start runs it again.
    if (this.closing) return;
    this.running.delete(entry.job.id);
    const { requeue, ...final } = result;
    if (!this.backend.remote) {
      const open = entry.job.attemptLog?.findLast((a) => a.outcome === undefined);
      if (open) entry.job = this.recordAttempt(entry.job, { ...open, endedAt: Date.now(), outcome: ATTEMPT_OUTCOME[final.type], ...(final.type === 'run:error' ? { error: final.error.message } : {}) });
    }
    if (entry.failWith && final.type === 'run:cancelled') {
      this.finish(entry.job, { type: 'run:error', runId: entry.job.id, error: entry.failWith });
    } else if (requeue && final.type === 'run:error' && diedRuns(entry.job.attemptLog) < this.maxAttempts) {
      // The worker's own condition failed it: another worker gets it, ahead of jobs submitted later.
      this.log.warn({ jobId: entry.job.id, error: final.error }, 'job failed because of its worker; queued again for another worker');
      this.opts.metrics?.redispatches.inc({ reason: 'worker_error' });
      this.store.requeue(entry.job.id);
      const job: JobRecord = { ...entry.job, status: 'queued' };
      this.pending.unshift(job);
      this.pending.sort((a, b) => b.priority - a.priority); // stable: it stays first within its priority
      this.emit({ type: 'run:queued', runId: job.id, position: this.position(job.id) ?? 0 }, job);
    } else {
      this.finish(entry.job, final);
    }
    this.dispatch();
  }

  /** A second run's result for a job that already has one: the first result stays, this one's files go. */
  private discardDuplicate(runId: string, { final, attempt }: OrphanResult): void {
    const job = this.store.get(runId);
    if (!job || job.status === 'queued' || job.status === 'running') return; // not finished: the backend's poll settles it
    const known = job.attemptLog?.find((a) => a.worker === attempt.worker && a.startedAt === attempt.startedAt);
    if (known && (known.outcome === 'succeeded' || known.outcome === 'failed' || known.outcome === 'cancelled')) return; // the winning run, reported twice
    const kept = fileIdsOf(job.outputs);
    const extra = final.type === 'run:done' ? [...fileIdsOf(final.outputs)].filter((id) => !kept.has(id)) : [];
    this.store.setAttempts(runId, upsertAttempt(job.attemptLog ?? [], { ...attempt, endedAt: attempt.endedAt ?? Date.now(), outcome: 'discarded' }));
    this.opts.metrics?.duplicateRuns.inc();
    this.log.warn({ jobId: runId, worker: attempt.worker, result: final.type, deletedFiles: extra.length }, 'duplicate run of a finished job discarded; the first result stays');
    if (extra.length) this.opts.deleteFiles?.(extra).catch((err: unknown) => this.log.warn({ err, jobId: runId }, 'deleting the files of a discarded run failed'));
  }

  private finish(job: JobRecord, final: FinalEvent): void {
    const status = STATUS_OF[final.type];
    const now = Date.now();
    this.store.finish(job.id, status, {
      timings: final.type === 'run:done' ? final.timings : undefined,
      outputs: final.type === 'run:done' ? final.outputs : undefined,
      error: final.type === 'run:error' ? final.error : undefined,
    }, now);
    const m = this.opts.metrics;
    m?.jobs.inc({ kind: job.kind, status });
    if (job.startedAt !== undefined) m?.jobDuration.observe({ kind: job.kind, status }, (now - job.startedAt) / 1000);
    if (final.type === 'run:error') m?.errors.inc({ code: final.error.code });
    const record = this.store.get(job.id)!;
    this.emit(final, record);
    const waiters = this.waiters.get(job.id) ?? [];
    this.waiters.delete(job.id);
    for (const w of waiters) w(record);
  }

  private emit(e: RunEvent, job: JobRecord): void {
    for (const l of this.listeners) {
      try {
        l(e, job);
      } catch (err) {
        this.log.error({ err, event: e.type }, 'queue listener failed');
      }
    }
  }
}
