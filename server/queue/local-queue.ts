// The embedded queue: FIFO within priority, bounded, durable through JobStore, feeding
// execution workers. Only as many jobs as there are workers are handed to the pool, so
// ordering, positions and cancellation of waiting jobs stay here.
import type { RunEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { RunJob } from '../worker/protocol.js';
import type { FinalEvent } from '../worker/pool.js';
import { IdempotencyConflictError, QueueFullError, type CancelResult, type JobProgress, type JobQueue, type QueueListener, type QueueStats, type SubmitResult } from './job-queue.js';
import type { JobRecord, JobStatus, JobStore, NewJob } from './job-store.js';

/** The part of WorkerPool the queue uses. */
export interface ExecutionBackend {
  readonly capacity: number;
  run(job: RunJob, onEvent: (e: RunEvent) => void): Promise<FinalEvent>;
  cancel(runId: string): boolean;
  /** For backends whose capacity changes (remote workers come and go): called on every change. */
  onCapacity?(listener: () => void): void;
}

export interface LocalQueueOptions {
  maxQueue: number;
  /** A job interrupted by a restart this many times is failed instead of run again. */
  maxAttempts?: number;
  metrics?: Metrics;
  logger?: Logger;
}

interface Running {
  job: JobRecord;
  progress?: JobProgress;
  nodesTotal: number;
  nodesDone: number;
  lastStepAt?: number;
}

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
  }

  async start(): Promise<void> {
    const maxAttempts = this.opts.maxAttempts ?? 3;
    for (const job of this.store.unfinished()) {
      if (job.status === 'running' && job.attempts >= maxAttempts) {
        const error = { code: 'interrupted', message: `the server stopped while this job was running (${job.attempts} times); it is not retried again` };
        this.store.finish(job.id, 'failed', { error });
        this.log.warn({ jobId: job.id, attempts: job.attempts }, 'job interrupted too often; marked failed');
        continue;
      }
      if (job.status === 'running') this.store.requeue(job.id);
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
      const entry: Running = { job: { ...job, status: 'running', startedAt: now, attempts: job.attempts + 1 }, nodesTotal: 0, nodesDone: 0 };
      this.running.set(job.id, entry);
      this.opts.metrics?.queueWait.observe({ kind: job.kind }, (now - job.createdAt) / 1000);
      this.backend
        .run({ runId: job.id, workflow: job.workflow, inputs: job.inputs }, (e) => this.onEvent(entry, e))
        .then((final) => this.onFinal(entry, final))
        .catch((err: unknown) => this.onFinal(entry, { type: 'run:error', runId: job.id, error: { code: 'internal', message: String(err) } }));
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

  private onFinal(entry: Running, final: FinalEvent): void {
    // While closing, a terminated worker reports its job as crashed: leave the job `running`
    // in the store so the next start runs it again.
    if (this.closing) return;
    this.running.delete(entry.job.id);
    this.finish(entry.job, final);
    this.dispatch();
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
