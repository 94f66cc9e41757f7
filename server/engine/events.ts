// Events a run emits, from the worker to the main thread and on to websocket clients.
import type { Preview } from './context.js';
import type { RunErrorInfo } from './errors.js';
import type { NodeResult } from './node.js';

export type RunOutputs = Record<string, NodeResult>;

export interface RunTimings {
  /** Wall time of each node that executed (cached nodes are absent), ms. */
  nodes: Record<string, number>;
  total: number;
}

export type RunEvent =
  | { type: 'run:queued'; runId: string; position: number }
  | { type: 'run:start'; runId: string; nodes: string[] }
  | { type: 'node:start'; runId: string; nodeId: string; nodeType: string }
  | { type: 'node:cached'; runId: string; nodeId: string; nodeType: string }
  | { type: 'node:progress'; runId: string; nodeId: string; done: number; total: number; preview?: Preview }
  | { type: 'node:done'; runId: string; nodeId: string; nodeType: string; ms: number; ui?: NodeResult }
  | { type: 'node:log'; runId: string; nodeId: string; level: string; msg: string; data?: Record<string, unknown> }
  | { type: 'run:done'; runId: string; outputs: RunOutputs; timings: RunTimings; executed: string[]; cached: string[] }
  | { type: 'run:error'; runId: string; error: RunErrorInfo }
  | { type: 'run:cancelled'; runId: string; nodeId?: string };

export type RunEventType = RunEvent['type'];
