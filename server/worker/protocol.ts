// Messages between the main thread (or a queue consumer) and an execution worker.
import type { Config } from '../config.js';
import type { RunEvent } from '../engine/events.js';

export interface RunJob {
  runId: string;
  workflow: unknown;
  inputs?: Record<string, unknown>;
  /** Scale-out: workers that failed this job for their own condition; another one takes it when it can. */
  avoidWorkers?: string[];
}

export type ToWorker =
  | { type: 'init'; config: Config; nodeDirs?: string[] }
  | { type: 'run'; job: RunJob }
  | { type: 'cancel'; runId: string };

export type FromWorker =
  | { type: 'ready'; nodeTypes: string[] }
  | { type: 'event'; event: RunEvent }
  | { type: 'init-error'; message: string }
  /** Model-pool figures (execution provider in use, session loads), sent when ready and after each job. */
  | { type: 'stats'; stats: WorkerStats };

export interface WorkerStats {
  models?: { requestedEp: string; effectiveEp: string; fallbackReason?: string; loads: number; hits: number; bytes: number };
}
