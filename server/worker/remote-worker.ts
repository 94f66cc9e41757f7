// `maskflow worker`: a scale-out execution process. It runs the same WorkerPool (worker_threads,
// one per device) as the embedded server, takes jobs from the BullMQ queue the API node
// fills, publishes their events, obeys cancels and heartbeats its free slots into Redis.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { RunEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import {
  CANCEL_CHANNEL,
  cancelKey,
  encodeWire,
  EVENTS_CHANNEL,
  HEARTBEAT_MS,
  HEARTBEAT_TTL_MS,
  JOBS_QUEUE,
  WORKER_KEY_PREFIX,
  type WorkerHeartbeat,
} from '../queue/remote-protocol.js';
import { isFinal, WorkerPool, type FinalEvent } from './pool.js';
import type { RunJob, WorkerStats } from './protocol.js';

export interface RemoteWorker {
  id: string;
  /** Takes no new jobs, lets running ones finish, then disconnects. */
  close(): Promise<void>;
}

/** Cancels remembered for runs a worker may pick up just after the message arrived. */
const CANCEL_MEMORY_MS = 10 * 60_000;

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

export async function startRemoteWorker(config: Config, opts: { logger: Logger; nodeDirs?: string[] }): Promise<RemoteWorker> {
  const { logger } = opts;
  if (!config.redisUrl) throw new Error('MASKFLOW_REDIS_URL must name the Redis the API node uses');
  if (!config.serverUrl) throw new Error('MASKFLOW_SERVER_URL must be the API node\'s base URL (it serves inputs and stores outputs)');
  const redisUrl = config.redisUrl;
  const id = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = logger.child({ worker: id });

  const pool = new WorkerPool(config, { nodeDirs: opts.nodeDirs, logger: log.child({ component: 'pool' }) });
  await pool.start();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const sub = new Redis(redisUrl, { maxRetriesPerRequest: null });
  for (const c of [redis, sub]) c.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));

  const running = new Set<string>();
  const cancelled = new Map<string, number>();
  let draining = false;

  const heartbeat = async (): Promise<void> => {
    const stats = combinedStats(pool);
    const hb: WorkerHeartbeat = {
      id,
      host: os.hostname(),
      pid: process.pid,
      slots: pool.workers.length,
      runs: [...running],
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

  const publish = (runId: string, event: RunEvent) => redis.publish(EVENTS_CHANNEL, encodeWire({ runId, event }));

  const processJob = async (job: Job): Promise<string> => {
    const data: unknown = job.data;
    const runId = isRunJob(data) ? data.runId : (job.id ?? 'unknown');
    const finish = async (final: FinalEvent) => {
      await publish(runId, final).catch((err: unknown) => log.warn({ err, runId }, 'publishing the final event failed'));
      return encodeWire(final);
    };
    if (!isRunJob(data)) return finish({ type: 'run:error', runId, error: { code: 'invalid_job', message: 'the queued job has no runId/workflow' } });
    if (cancelled.has(runId) || (await redis.exists(cancelKey(runId)))) return finish({ type: 'run:cancelled', runId });
    running.add(runId);
    beat();
    log.info({ runId, attempt: job.attemptsStarted, stalled: job.stalledCounter }, 'running job');
    try {
      // Progress is fire-and-forget (one connection keeps the order); the final event is awaited in finish().
      const final = await pool.run(data, (e) => {
        if (!isFinal(e)) {
          publish(runId, e).catch((err: unknown) => log.warn({ err, runId }, 'publishing an event failed'));
        }
      });
      log.info({ runId, result: final.type }, 'job finished');
      return await finish(final);
    } finally {
      running.delete(runId);
      beat();
    }
  };

  const worker = new Worker(JOBS_QUEUE, processJob, {
    connection: { url: redisUrl, maxRetriesPerRequest: null },
    name: id,
    concurrency: pool.workers.length,
    lockDuration: config.workerLockMs,
    stalledInterval: config.workerStalledCheckMs,
    // A job whose worker died goes back to the queue; MASKFLOW_JOB_MAX_ATTEMPTS bounds the runs in all.
    maxStalledCount: Math.max(0, config.jobMaxAttempts - 1),
  });
  worker.on('error', (err: Error) => log.warn({ err: err.message }, 'bullmq worker error'));
  await worker.waitUntilReady();
  await heartbeat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  log.info({ slots: pool.workers.length, ep: config.ep, server: config.serverUrl }, 'maskflow worker ready');

  let closed: Promise<void> | undefined;
  return {
    id,
    close: () =>
      (closed ??= (async () => {
        draining = true;
        beat();
        await worker.close();
        clearInterval(timer);
        await redis.del(WORKER_KEY_PREFIX + id).catch(() => {});
        sub.disconnect();
        await redis.quit().catch(() => redis.disconnect());
        await pool.stop();
        log.info('maskflow worker stopped');
      })()),
  };
}
