// RemoteBackend against a real Redis with no worker connected (heartbeats and results are
// written by the test): capacity follows heartbeats, a job still waiting in BullMQ is cancelled
// by removing it there, and after Redis lost its state a job is queued again only when no
// worker still runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { silentLogger } from '../../server/log.js';
import { Metrics } from '../../server/metrics.js';
import type { JobAttempt } from '../../server/queue/job-store.js';
import { RemoteBackend } from '../../server/queue/remote-backend.js';
import { encodeWire, EVENTS_CHANNEL, HEARTBEAT_TTL_MS, JOBS_QUEUE, WORKER_KEY_PREFIX, type WorkerHeartbeat } from '../../server/queue/remote-protocol.js';
import { until } from '../server/helpers.js';
import { startRedis, type TestRedis } from './helpers.js';

let redis: TestRedis;
let client: Redis;
let backend: RemoteBackend;
const metrics = new Metrics();

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  client.on('error', () => {}); // Redis is restarted on purpose below
  backend = new RemoteBackend({ redisUrl: redis.url, logger: silentLogger, refreshMs: 100, metrics });
  await backend.start();
});

afterAll(async () => {
  await backend?.stop();
  client?.disconnect();
  await redis?.stop();
});

describe('RemoteBackend', () => {
  it('sums the slots of live heartbeats and tells the queue when capacity changes', async () => {
    expect(backend.capacity).toBe(0);
    let changes = 0;
    backend.onCapacity(() => changes++);
    const hb = (id: string, slots: number, extra: Partial<WorkerHeartbeat> = {}): string =>
      JSON.stringify({ id, host: 'h', pid: 1, slots, runs: [], restarts: 0, ep: 'cpu', stats: {}, ...extra });
    await client.set(`${WORKER_KEY_PREFIX}a`, hb('a', 2), 'PX', HEARTBEAT_TTL_MS);
    await client.set(`${WORKER_KEY_PREFIX}b`, hb('b', 1), 'PX', HEARTBEAT_TTL_MS);
    await client.set(`${WORKER_KEY_PREFIX}c`, hb('c', 4, { draining: true }), 'PX', HEARTBEAT_TTL_MS);
    await client.set(`${WORKER_KEY_PREFIX}bad`, 'not json', 'PX', HEARTBEAT_TTL_MS);
    await until(() => (backend.capacity === 3 ? true : undefined), 5000);
    expect(backend.workers.map((w) => w.id)).toEqual(['a', 'b', 'c']);
    expect(changes).toBeGreaterThan(0);
    await client.del(`${WORKER_KEY_PREFIX}a`, `${WORKER_KEY_PREFIX}b`, `${WORKER_KEY_PREFIX}c`, `${WORKER_KEY_PREFIX}bad`);
    await until(() => (backend.capacity === 0 ? true : undefined), 5000);
  });

  it('cancels a job still waiting in BullMQ by removing it', async () => {
    const events: string[] = [];
    const final = backend.run({ runId: 'waiting-job', workflow: { version: 1, nodes: {} } }, (e) => events.push(e.type));
    const queue = new Queue(JOBS_QUEUE, { connection: { url: redis.url } });
    try {
      await until(async () => ((await queue.getJob('waiting-job')) ? true : undefined), 5000);
      expect(backend.cancel('waiting-job')).toBe(true);
      expect(await final).toEqual({ type: 'run:cancelled', runId: 'waiting-job' });
      expect(events).toEqual(['run:cancelled']);
      expect(await queue.getJob('waiting-job')).toBeUndefined();
      expect(backend.cancel('waiting-job')).toBe(false);
    } finally {
      await queue.close();
    }
  });

  it('after Redis lost its state, queues a job again only when no worker still runs it', async () => {
    const workflow = { version: 1, nodes: {} };
    const attempts: JobAttempt[] = [];
    const lost = backend.run({ runId: 'lost-job', workflow }, () => {});
    const held = backend.run({ runId: 'held-job', workflow }, () => {}, (a) => attempts.push(a));
    let queue = new Queue(JOBS_QUEUE, { connection: { url: redis.url } });
    await until(async () => ((await queue.getJob('lost-job')) && (await queue.getJob('held-job')) ? true : undefined), 5000);
    await queue.close();

    await redis.restart(300);
    // A worker still running held-job heartbeats again once Redis is back.
    const hb: WorkerHeartbeat = { id: 'w1', host: 'h', pid: 1, slots: 1, runs: ['held-job'], started: { 'held-job': 1234 }, restarts: 0, ep: 'cpu', stats: {} };
    await client.set(`${WORKER_KEY_PREFIX}w1`, JSON.stringify(hb), 'PX', 30_000);
    queue = new Queue(JOBS_QUEUE, { connection: { url: redis.url } });
    try {
      await until(async () => ((await queue.getJob('lost-job')) ? true : undefined), 15_000, 100);
      expect(await queue.getJob('held-job')).toBeUndefined();
      expect(metrics.redispatches.get({ reason: 'redis_lost' })).toBe(1);
      expect(attempts).toEqual([{ worker: 'w1', startedAt: 1234 }]);

      // Its result arrives from the worker: the run ends with it, and the attempt with it.
      const event = { type: 'run:done', runId: 'held-job', outputs: {}, timings: { nodes: {}, total: 1 }, executed: [], cached: [] };
      await client.publish(EVENTS_CHANNEL, encodeWire({ runId: 'held-job', event, attempt: { worker: 'w1', startedAt: 1234, endedAt: 2000 } }));
      expect(await held).toMatchObject({ type: 'run:done', runId: 'held-job' });
      expect(attempts.at(-1)).toEqual({ worker: 'w1', startedAt: 1234, endedAt: 2000, outcome: 'succeeded' });

      expect(backend.cancel('lost-job')).toBe(true);
      expect(await lost).toEqual({ type: 'run:cancelled', runId: 'lost-job' });
    } finally {
      await client.del(`${WORKER_KEY_PREFIX}w1`);
      await queue.close();
    }
  });
});
