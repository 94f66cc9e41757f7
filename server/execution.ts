// Where jobs execute: worker threads in this process (embedded), or remote `maskflow worker`
// processes fed through Redis/BullMQ (MASKFLOW_REDIS_URL). The queue, /health and /metrics
// see both through this one shape.
import type { WorkerInfo } from './api/context.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { ExecutionBackend } from './queue/local-queue.js';
import { RemoteBackend } from './queue/remote-backend.js';
import { WorkerPool } from './worker/pool.js';
import type { WorkerStats } from './worker/protocol.js';

export interface Execution {
  mode: 'embedded' | 'scale-out';
  backend: ExecutionBackend;
  workers(): WorkerInfo[];
  /** Per-worker model-pool figures and restarts, labelled for /metrics. */
  stats(): Array<{ label: string; stats: WorkerStats; restarts: number }>;
  /** Facts for /health beyond the workers (scale-out: whether Redis answers). */
  status?(): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startExecution(config: Config, opts: { nodeDirs: string[]; logger: Logger; metrics?: Metrics }): Promise<Execution> {
  return config.redisUrl ? remoteExecution(config.redisUrl, opts.logger, opts.metrics) : embeddedExecution(config, opts);
}

async function embeddedExecution(config: Config, opts: { nodeDirs: string[]; logger: Logger }): Promise<Execution> {
  // MASKFLOW_SERVER_URL is for remote workers; threads of this process use the local file store.
  const pool = new WorkerPool({ ...config, serverUrl: undefined }, { nodeDirs: opts.nodeDirs, logger: opts.logger.child({ component: 'pool' }) });
  try {
    await pool.start();
  } catch (err) {
    await pool.stop();
    throw err;
  }
  return {
    mode: 'embedded',
    backend: { capacity: pool.workers.length, run: (job, onEvent) => pool.run(job, onEvent), cancel: (id) => pool.cancel(id) },
    workers: () => pool.workers.map((w) => ({ state: w.state, restarts: w.restarts, runId: w.runId })),
    stats: () => pool.workers.map((w, i) => ({ label: String(i), stats: w.stats, restarts: w.restarts })),
    stop: () => pool.stop(),
  };
}

async function remoteExecution(redisUrl: string, logger: Logger, metrics?: Metrics): Promise<Execution> {
  const backend = new RemoteBackend({ redisUrl, logger: logger.child({ component: 'remote-backend' }), metrics });
  try {
    await backend.start();
  } catch (err) {
    await backend.stop();
    throw new Error(`cannot use Redis at ${redisUrl}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    mode: 'scale-out',
    backend,
    workers: () =>
      backend.workers.map((w) => ({
        id: w.id,
        slots: w.slots,
        state: w.draining ? 'draining' : w.runs.length >= w.slots ? 'busy' : 'idle',
        restarts: w.restarts,
        runs: w.runs,
        host: w.host,
        ...(w.at ? { lastHeartbeat: w.at } : {}),
      })),
    stats: () => backend.workers.map((w) => ({ label: w.id, stats: w.stats ?? {}, restarts: w.restarts })),
    status: () => {
      const r = backend.redisStatus;
      return { redis: { status: r.connected ? 'ok' : 'unreachable', since: new Date(r.since).toISOString(), ...(r.connected || !r.error ? {} : { error: r.error }) } };
    },
    stop: () => backend.stop(),
  };
}
