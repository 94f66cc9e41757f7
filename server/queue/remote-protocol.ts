// What the API node and `maskflow worker` processes share: over Redis the BullMQ queue
// name, pub/sub channels, key names, the heartbeat record and a JSON codec for run events
// (step previews carry JPEG bytes, sent as base64); over HTTP the output-storing path.
import type { Redis } from 'ioredis';
import type { RunEvent } from '../engine/events.js';
import type { FinalEvent } from '../worker/pool.js';
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
/**
 * The first result of a run (SET NX by the worker that finished it). It outlives the BullMQ job,
 * so a run whose BullMQ record Redis lost still reports, and a second run's result never replaces it.
 */
export const resultKey = (runId: string) => `maskflow:result:${runId}`;
/** Results are kept this long, so an API node restarted meanwhile finds them. */
export const RESULT_TTL_S = 7 * 24 * 3600;
/** One key per live worker, refreshed by its heartbeat; it expires when the worker dies. */
export const WORKER_KEY_PREFIX = 'maskflow:worker:';
export const HEARTBEAT_MS = 1000;
export const HEARTBEAT_TTL_MS = 5000;
/** Reconnect delays after a Redis outage, however long it was: at most 2 s. */
export const reconnectDelayMs = (times: number) => Math.min(times * 100, 2000);
/** BullMQ connection options (BullMQ's own default backs off to 20 s between reconnects). */
export const bullConnection = (url: string) => ({ url, maxRetriesPerRequest: null, retryStrategy: reconnectDelayMs });
/** How often a running worker checks that the API node still accepts its key. */
export const KEY_CHECK_MS = 10_000;
/** HTTP, worker -> API node: where a worker stores outputs (mounted only in scale-out mode). */
export const INTERNAL_FILES_PATH = '/v1/internal/files';
/** HTTP, worker -> API node: a worker checks its key here before it takes any job. */
export const INTERNAL_WORKER_PATH = '/v1/internal/worker';

export interface WorkerHeartbeat {
  id: string;
  host: string;
  pid: number;
  /** Execution threads (one per device): how many jobs it runs at once. */
  slots: number;
  /** Runs executing now. */
  runs: string[];
  /** When each of those runs started here (ms since epoch): one run = one attempt. */
  started?: Record<string, number>;
  /** When this heartbeat was sent (ms since epoch). */
  at?: number;
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

/** One run of a job on one worker. */
export interface RunAttempt {
  worker: string;
  startedAt: number;
  endedAt?: number;
}

/** How a worker reports a run's end: in its final event message, the result key and the BullMQ return value. */
export interface RunResult {
  event: FinalEvent;
  attempt: RunAttempt;
  /** Failed because of the worker's own condition: the job should go to another worker. */
  requeue?: boolean;
}

export interface EventMessage {
  runId: string;
  event: RunEvent;
  /**
   * The run that sends it: with final events the run that ended; with the others the run in
   * progress (so the API node knows which worker runs a job from its first event, not only
   * from the next heartbeat it reads, up to a second later).
   */
  attempt?: RunAttempt;
  requeue?: boolean;
}

/** The live workers' heartbeats, sorted by id (malformed records count as no worker). */
export async function readHeartbeats(redis: Redis): Promise<WorkerHeartbeat[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${WORKER_KEY_PREFIX}*`, 'COUNT', 200);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  if (!keys.length) return [];
  const out: WorkerHeartbeat[] = [];
  for (const v of await redis.mget(...keys)) {
    try {
      const hb = v ? (JSON.parse(v) as WorkerHeartbeat) : undefined;
      if (hb && typeof hb.id === 'string' && Number.isInteger(hb.slots) && hb.slots > 0) out.push({ ...hb, runs: Array.isArray(hb.runs) ? hb.runs : [] });
    } catch {
      /* a malformed heartbeat counts as no worker */
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
