// What the API node and `maskflow worker` processes share: over Redis the BullMQ queue
// name, pub/sub channels, key names, the heartbeat record and a JSON codec for run events
// (step previews carry JPEG bytes, sent as base64); over HTTP the output-storing path.
import type { RunEvent } from '../engine/events.js';
import type { WorkerStats } from '../worker/protocol.js';

/** The BullMQ queue jobs travel through (jobId = runId). */
export const JOBS_QUEUE = 'maskflow-jobs';
/** Worker -> API: `{runId, event}` for every run event, final ones included. */
export const EVENTS_CHANNEL = 'maskflow:events';
/** API -> workers: `{runId}` to abort a run wherever it executes. */
export const CANCEL_CHANNEL = 'maskflow:cancel';
/** Set while a cancel is pending, so a worker that picks the job up later still drops it. */
export const cancelKey = (runId: string) => `maskflow:cancelled:${runId}`;
export const CANCEL_KEY_TTL_S = 3600;
/** One key per live worker, refreshed by its heartbeat; it expires when the worker dies. */
export const WORKER_KEY_PREFIX = 'maskflow:worker:';
export const HEARTBEAT_MS = 1000;
export const HEARTBEAT_TTL_MS = 5000;
/** HTTP, worker -> API node: where a worker stores outputs (mounted only in scale-out mode). */
export const INTERNAL_FILES_PATH = '/v1/internal/files';

export interface WorkerHeartbeat {
  id: string;
  host: string;
  pid: number;
  /** Execution threads (one per device): how many jobs it runs at once. */
  slots: number;
  /** Runs executing now. */
  runs: string[];
  /** Crashed execution threads replaced so far. */
  restarts: number;
  ep: string;
  stats: WorkerStats;
  /** Set while the worker finishes its jobs before exiting; it takes no new ones. */
  draining?: boolean;
}

const BYTES = '$bytes';

/** JSON with Uint8Array values as `{"$bytes": base64}`. */
export function encodeWire(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return { [BYTES]: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
    // JSON.stringify turns Buffers into {type:'Buffer', data:[...]} before the replacer sees them.
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return { [BYTES]: Buffer.from((v as { data: number[] }).data).toString('base64') };
    }
    return v;
  });
}

export function decodeWire<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && typeof (v as Record<string, unknown>)[BYTES] === 'string' && Object.keys(v).length === 1) {
      return new Uint8Array(Buffer.from((v as Record<string, string>)[BYTES]!, 'base64'));
    }
    return v;
  }) as T;
}

export interface EventMessage {
  runId: string;
  event: RunEvent;
}
