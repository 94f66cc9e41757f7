// `maskflow worker`: a scale-out execution process. It runs the same WorkerPool (worker_threads,
// one per device) as the embedded server, takes jobs from the BullMQ queue the API node
// fills, publishes their events, obeys cancels and heartbeats its free slots into Redis.
// It checks its API key before it announces any slot; a run that fails because of the worker's
// own condition (refused key, missing model folder, out of memory) goes back to the queue.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { DelayedError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { RunErrorInfo } from '../engine/errors.js';
import type { RunEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import {
  bullConnection,
  CANCEL_CHANNEL,
  cancelKey,
  encodeWire,
  EVENTS_CHANNEL,
  HEARTBEAT_MS,
  HEARTBEAT_TTL_MS,
  JOBS_QUEUE,
  KEY_CHECK_MS,
  readHeartbeats,
  reconnectDelayMs,
  RESULT_TTL_S,
  resultKey,
  WORKER_KEY_PREFIX,
  type RunResult,
  type WorkerHeartbeat,
} from '../queue/remote-protocol.js';
import { probeApiNode, waitForApiNode } from './api-node-check.js';
import { isFinal, WorkerPool, type FinalEvent } from './pool.js';
import type { RunJob, WorkerStats } from './protocol.js';

export interface RemoteWorker {
  id: string;
  /** Takes no new jobs, lets running ones finish, then disconnects. */
  close(): Promise<void>;
  /** Resolves with the reason when the worker stopped by itself (its key was refused while running). */
  failed: Promise<string>;
}

/** Cancels remembered for runs a worker may pick up just after the message arrived. */
const CANCEL_MEMORY_MS = 10 * 60_000;
/** A job this worker should pass over waits this long before a worker looks at it again. */
const AVOID_DELAY_MS = 1000;

function isRunJob(v: unknown): v is RunJob {
  return !!v && typeof v === 'object' && typeof (v as RunJob).runId === 'string' && (v as RunJob).workflow !== undefined;
}

/** Model-pool figures of all threads as one record (loads, hits and bytes add up). */
function combinedStats(pool: WorkerPool): WorkerStats {
  const models = pool.workers.map((w) => w.stats.models).filter((m) => m !== undefined);
  if (!models.length) return {};
  const first = models.find((m) => m.fallbackReason) ?? models[0]!;
  const sum = (k: 'loads' | 'hits' | 'bytes') => models.reduce((n, m) => n + m[k], 0);
  return { models: { ...first, loads: sum('loads'), hits: sum('hits'), bytes: sum('bytes') } };
}

/**
 * Why a failed run is this worker's fault rather than the job's, or undefined. Such runs go back
 * to the queue for another worker (up to MASKFLOW_JOB_MAX_ATTEMPTS).
 */
export function workerCondition(error: RunErrorInfo): string | undefined {
  if (error.code === 'worker_unauthorized') return 'the API node refuses its key';
  if (error.code === 'file_server_unreachable') return 'it cannot reach the API node';
  if (error.code === 'model_not_found' || error.code === 'model_incomplete') return 'its models folder lacks what the job needs';
  if (error.code === 'worker_crashed' || /out of memory|bad_alloc|failed to allocate/i.test(error.message)) return 'it ran out of memory';
  return undefined;
}

export async function startRemoteWorker(config: Config, opts: { logger: Logger; nodeDirs?: string[] }): Promise<RemoteWorker> {
  const { logger } = opts;
  if (!config.redisUrl) throw new Error('MASKFLOW_REDIS_URL must name the Redis the API node uses');
  if (!config.serverUrl) throw new Error('MASKFLOW_SERVER_URL must be the API node\'s base URL (it serves inputs and stores outputs)');
  const redisUrl = config.redisUrl;
  const serverUrl = config.serverUrl;
  const id = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = logger.child({ worker: id });

  // No slot is announced before the API node accepts this worker's key.
  await waitForApiNode(config, log);

  const pool = new WorkerPool(config, { nodeDirs: opts.nodeDirs, logger: log.child({ component: 'pool' }) });
  await pool.start();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: reconnectDelayMs });
  const sub = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: reconnectDelayMs });
  for (const c of [redis, sub]) c.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));

  /** Runs executing here, with their start time. */
  const running = new Map<string, number>();
  const cancelled = new Map<string, number>();
  let draining = false;
  let refused: string | undefined;
  let onFailed!: (reason: string) => void;
  const failed = new Promise<string>((resolve) => (onFailed = resolve));

  const heartbeat = async (): Promise<void> => {
    const stats = combinedStats(pool);
    const hb: WorkerHeartbeat = {
      id,
      host: os.hostname(),
      pid: process.pid,
      slots: pool.workers.length,
      runs: [...running.keys()],
      started: Object.fromEntries(running),
      at: Date.now(),
      restarts: pool.workers.reduce((n, w) => n + w.restarts, 0),
      ep: stats.models?.effectiveEp ?? config.ep,
      stats,
      ...(draining ? { draining } : {}),
    };
    await redis.set(WORKER_KEY_PREFIX + id, JSON.stringify(hb), 'PX', HEARTBEAT_TTL_MS);
  };
  const beat = () => void heartbeat().catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));

  sub.on('message', (channel: string, text: string) => {
    if (channel !== CANCEL_CHANNEL) return;
    let runId: unknown;
    try {
      runId = (JSON.parse(text) as { runId?: unknown }).runId;
    } catch {
      return;
    }
    if (typeof runId !== 'string') return;
    const now = Date.now();
    cancelled.set(runId, now);
    for (const [k, t] of cancelled) if (now - t > CANCEL_MEMORY_MS) cancelled.delete(k);
    if (running.has(runId)) {
      log.info({ runId }, 'cancelling run');
      pool.cancel(runId);
    }
  });
  await sub.subscribe(CANCEL_CHANNEL);

  /** Another live worker that takes jobs (so one this worker should pass over has somewhere to go). */
  const otherWorkerUp = async () => (await readHeartbeats(redis)).some((w) => w.id !== id && !w.draining);

  const processJob = async (job: Job, token?: string): Promise<string> => {
    const data: unknown = job.data;
    const runId = isRunJob(data) ? data.runId : (job.id ?? 'unknown');
    const startedAt = Date.now();
    const finish = async (final: FinalEvent, requeue = false) => {
      const result: RunResult = { event: final, attempt: { worker: id, startedAt, endedAt: Date.now() }, ...(requeue ? { requeue } : {}) };
      const text = encodeWire(result);
      // The first result of a job stays; a later run of the same job only reports (the API node discards it).
      if (!requeue && (await redis.set(resultKey(runId), text, 'EX', RESULT_TTL_S, 'NX')) === null) {
        log.warn({ runId, result: final.type }, 'duplicate run: another run of this job finished first; the API node keeps that result and discards this one');
      }
      await redis
        .publish(EVENTS_CHANNEL, encodeWire({ runId, event: final, attempt: result.attempt, ...(requeue ? { requeue } : {}) }))
        .catch((err: unknown) => log.warn({ err, runId }, 'publishing the final event failed'));
      return text;
    };
    if (!isRunJob(data)) return finish({ type: 'run:error', runId, error: { code: 'invalid_job', message: 'the queued job has no runId/workflow' } });
    if (refused) {
      const message = `worker ${id}: ${workerCondition({ code: 'worker_unauthorized', message: refused })}: ${refused}`;
      return finish({ type: 'run:error', runId, error: { code: 'worker_unauthorized', message, details: { worker: id } } }, true);
    }
    // Another run already finished this job (e.g. Redis lost the BullMQ record, not the result): never run it twice.
    const earlier = await redis.get(resultKey(runId));
    if (earlier) {
      log.warn({ runId }, 'job already finished by another run; not running it again');
      return earlier;
    }
    if (data.avoidWorkers?.includes(id) && token && (await otherWorkerUp())) {
      await job.moveToDelayed(Date.now() + AVOID_DELAY_MS, token);
      throw new DelayedError();
    }
    if (cancelled.has(runId) || (await redis.exists(cancelKey(runId)))) return finish({ type: 'run:cancelled', runId });
    running.set(runId, startedAt);
    beat();
    log.info({ runId, attempt: job.attemptsStarted, stalled: job.stalledCounter }, 'running job');
    try {
      // Progress is fire-and-forget (one connection keeps the order); the final event is awaited in finish().
      let final = await pool.run(data, (e) => {
        if (!isFinal(e)) {
          redis.publish(EVENTS_CHANNEL, encodeWire({ runId, event: e, attempt: { worker: id, startedAt } })).catch((err: unknown) => log.warn({ err, runId }, 'publishing an event failed'));
        }
      });
      const condition = final.type === 'run:error' ? workerCondition(final.error) : undefined;
      const refusal = final.type === 'run:error' && final.error.code === 'worker_unauthorized' ? final.error.message : undefined;
      if (final.type === 'run:error') {
        const error: RunErrorInfo = { ...final.error, details: { ...final.error.details, worker: id } };
        if (condition) error.message = `worker ${id}: ${condition}: ${final.error.message}`;
        final = { ...final, error };
      }
      log.info({ runId, result: final.type, ...(condition ? { requeue: condition } : {}) }, 'job finished');
      if (refusal) refuse(refusal);
      return await finish(final, condition !== undefined);
    } finally {
      running.delete(runId);
      beat();
    }
  };

  const worker = new Worker(JOBS_QUEUE, processJob, {
    connection: bullConnection(redisUrl),
    name: id,
    concurrency: pool.workers.length,
    lockDuration: config.workerLockMs,
    stalledInterval: config.workerStalledCheckMs,
    // A job whose worker died goes back to the queue; MASKFLOW_JOB_MAX_ATTEMPTS bounds the runs in all.
    maxStalledCount: Math.max(0, config.jobMaxAttempts - 1),
    // After a Redis outage, look for jobs again within a second (BullMQ's default waits 15 s).
    runRetryDelay: 1000,
  });
  worker.on('error', (err: Error) => log.warn({ err: err.message }, 'bullmq worker error'));
  worker.on('lockRenewalFailed', (ids: string[]) => log.warn({ runIds: ids }, 'job locks could not be renewed (Redis restarted or unreachable); the runs go on'));
  await worker.waitUntilReady();
  await heartbeat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  // A key revoked while running: stop taking jobs and say so.
  const keyCheck = setInterval(() => {
    void probeApiNode(serverUrl, config.serverKey, 5000).then((answer) => {
      if (!answer.ok && answer.refused) refuse(answer.refused);
    });
  }, KEY_CHECK_MS);
  log.info({ slots: pool.workers.length, ep: config.ep, server: serverUrl }, 'maskflow worker ready');

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      draining = true;
      clearInterval(keyCheck);
      beat();
      await worker.close();
      clearInterval(timer);
      await redis.del(WORKER_KEY_PREFIX + id).catch(() => {});
      sub.disconnect();
      await redis.quit().catch(() => redis.disconnect());
      await pool.stop();
      log.info('maskflow worker stopped');
    })());

  function refuse(reason: string): void {
    if (refused) return;
    refused = reason;
    log.error({ server: serverUrl, reason }, 'the API node refuses this worker\'s key: taking no more jobs and exiting');
    // Not awaited: this may run inside a job, which close() waits for.
    void close().then(() => onFailed(reason));
  }

  return { id, close, failed };
}
