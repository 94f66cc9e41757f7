// How a `maskflow worker` learns whether the API node accepts it: GET /v1/internal/worker with
// its key, before it announces any slot and periodically while it runs.
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { INTERNAL_WORKER_PATH } from '../queue/remote-protocol.js';
import { refusedKeyMessage } from '../storage/http-file-store.js';

/** Waits between looks at an API node that is down (the last one repeats). */
const API_WAIT_MS = [500, 1000, 2000, 5000];

export type ApiNodeAnswer = { ok: true; version?: string } | { ok: false; refused?: string; down?: string };

/** One look at the API node's worker endpoint with this worker's key. */
export async function probeApiNode(baseUrl: string, key: string | undefined, timeoutMs: number): Promise<ApiNodeAnswer> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${INTERNAL_WORKER_PATH}`, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    return { ok: false, down: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) };
  }
  const text = await res.text().catch(() => '');
  if (res.status === 401 || res.status === 403) return { ok: false, refused: refusedKeyMessage(baseUrl, res.status, text) };
  if (res.status === 404) return { ok: false, refused: `${baseUrl} is not a scale-out API node: ${INTERNAL_WORKER_PATH} answered HTTP 404 (is MASKFLOW_REDIS_URL set there, and is MASKFLOW_SERVER_URL right?)` };
  if (!res.ok) return { ok: false, down: `HTTP ${res.status}` };
  try {
    return { ok: true, version: (JSON.parse(text) as { version?: string }).version };
  } catch {
    return { ok: true };
  }
}

const OWN_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version;

/** Waits for the API node to answer; throws when it refuses this worker. */
export async function waitForApiNode(config: Config, log: Logger): Promise<void> {
  for (let i = 0; ; i++) {
    const answer = await probeApiNode(config.serverUrl!, config.serverKey, 5000);
    if (answer.ok) {
      if (answer.version && OWN_VERSION && answer.version !== OWN_VERSION) log.warn({ api: answer.version, worker: OWN_VERSION }, 'the API node runs another maskflow version');
      return;
    }
    if (answer.refused) throw new Error(answer.refused);
    log.warn({ server: config.serverUrl, error: answer.down }, 'the API node is not reachable; waiting for it before taking jobs');
    await new Promise((r) => setTimeout(r, API_WAIT_MS[Math.min(i, API_WAIT_MS.length - 1)]));
  }
}
