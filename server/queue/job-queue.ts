// What the HTTP and websocket layers need from a queue. LocalQueue (SQLite) implements it in
// both modes; only its ExecutionBackend differs: worker threads, or remote `maskflow worker`
// processes fed through Redis/BullMQ (remote-backend.ts).
import type { RunEvent } from '../engine/events.js';
import type { JobRecord, NewJob } from './job-store.js';

export interface JobProgress {
  nodeId: string;
  nodeType?: string;
  /** Steps done / total of the node reporting progress (denoise steps for the sampler). */
  step: number;
  total: number;
  /** Nodes finished / planned in the whole run. */
  nodesDone: number;
  nodesTotal: number;
}

export interface SubmitResult {
  job: JobRecord;
  /** true when an Idempotency-Key matched an earlier job, which is returned instead. */
  existing: boolean;
}

export type CancelResult = 'cancelled' | 'cancelling' | 'finished' | 'unknown';

export type QueueListener = (event: RunEvent, job: JobRecord) => void;

export interface QueueStats {
  queued: number;
  running: number;
  capacity: number;
  maxQueue: number;
}

export interface JobQueue {
  /** Re-enqueues jobs a previous process left unfinished; starts dispatching. */
  start(): Promise<void>;
  /** Writes the job to the store, then queues it. Throws QueueFullError when the queue is full. */
  submit(job: NewJob): SubmitResult;
  get(id: string): JobRecord | undefined;
  /** Newest jobs first (of one owner when given). */
  recent(limit: number, owner?: string): JobRecord[];
  /** Jobs running, then jobs waiting in run order (the ComfyUI layer's /queue). */
  active(): JobRecord[];
  /** 0-based position among queued jobs; undefined when not queued. */
  position(id: string): number | undefined;
  progress(id: string): JobProgress | undefined;
  cancel(id: string): CancelResult;
  /** Resolves with the job once it reached a final status. */
  wait(id: string): Promise<JobRecord>;
  /** Every run event of every job (progress, previews, final). Returns an unsubscribe function. */
  subscribe(listener: QueueListener): () => void;
  stats(): QueueStats;
  /** Stops dispatching; running jobs stay `running` in the store and are recovered on restart. */
  close(): Promise<void>;
}

/** An Idempotency-Key already used for a different request (IETF idempotency-key draft: 422). */
export class IdempotencyConflictError extends Error {
  readonly code = 'idempotency_key_reused';
  constructor(readonly key: string, readonly jobId: string) {
    super(`Idempotency-Key "${key}" was already used for a different request (${jobId}); use a new key for a new request`);
    this.name = 'IdempotencyConflictError';
  }
}

export class QueueFullError extends Error {
  readonly code = 'queue_full';
  constructor(readonly limit: number) {
    super(`the queue is full (${limit} jobs waiting); retry later`);
    this.name = 'QueueFullError';
  }
}
