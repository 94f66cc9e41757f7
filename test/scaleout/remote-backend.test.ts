// RemoteBackend against a real Redis with no worker connected: capacity follows heartbeats,
// and a job still waiting in BullMQ is cancelled by removing it there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { silentLogger } from '../../server/log.js';
import { RemoteBackend } from '../../server/queue/remote-backend.js';
import { HEARTBEAT_TTL_MS, JOBS_QUEUE, WORKER_KEY_PREFIX, type WorkerHeartbeat } from '../../server/queue/remote-protocol.js';
import { until } from '../server/helpers.js';
import { startRedis, type TestRedis } from './helpers.js';

let redis: TestRedis;
let client: Redis;
let backend: RemoteBackend;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  backend = new RemoteBackend({ redisUrl: redis.url, logger: silentLogger, refreshMs: 100 });
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
});
