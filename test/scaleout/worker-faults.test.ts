// Scale-out faults a worker brings with it, with real processes and API keys on: an API node
// that is not up yet (waited for, no slot announced), a wrong MASKFLOW_SERVER_KEY (refused before
// it takes any job), a models folder lacking the job's model (the job goes to another worker) and
// a key revoked while workers run (they stop and exit; the job waits for a worker with a good key).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { WORKER_KEY_PREFIX } from '../../server/queue/remote-protocol.js';
import { api, finishedRun, REAL_NODES, startTestServer, tempDir, until, type TestServer } from '../server/helpers.js';
import { dataUriBytes, testInputs } from '../server/inpaint-helpers.js';
import { freePort, logsWith, spawnWorker, startRedis, startWorker, stopAllWorkers, type TestRedis, type TestWorker } from './helpers.js';

const KEY = 'faults-test-key';
const auth = { authorization: `Bearer ${KEY}` };
const emptyModels = tempDir('maskflow-no-models-');
let redis: TestRedis;
let client: Redis;
let server: TestServer | undefined;
let serverUrl: string;
let port: number;
let uploads: { image: string; mask: string };
let good: TestWorker;
let noModels: Promise<TestWorker>;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  port = await freePort();
  serverUrl = `http://127.0.0.1:${port}`;
  // Started now (it takes a while); its API node answers as soon as the first test starts it.
  noModels = startWorker({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: serverUrl, MASKFLOW_SERVER_KEY: KEY, MASKFLOW_MODELS_DIR: emptyModels });
  noModels.catch(() => {});
});

afterAll(async () => {
  await stopAllWorkers();
  await server?.stop();
  client?.disconnect();
  await redis?.stop();
  rmSync(emptyModels, { recursive: true, force: true });
});

const runOf = async (id: string) => (await api(server!, 'GET', `/v1/runs/${id}`, undefined, auth)).body;
const finished = (id: string, timeoutMs = 60_000) => finishedRun(server!, id, { timeoutMs, headers: auth, everyMs: 100 });
const inpaint = async (steps: number) =>
  (
    await api(
      server!,
      'POST',
      '/v1/queue/inpaint',
      { prompt: 'a plum', image_url: uploads.image, mask_url: uploads.mask, num_inference_steps: steps, strength: 1, format: 'png', seed: 3 },
      auth,
    )
  ).body.request_id as string;
const metric = async (line: RegExp) => {
  const text = (await api(server!, 'GET', '/metrics', undefined, auth)).body as string;
  return Number(text.match(line)?.[1] ?? 0);
};

describe('scale-out worker faults', () => {
  it('a worker waits for an API node that is down, announcing no slot, and starts when it is up', async () => {
    good = spawnWorker({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: serverUrl, MASKFLOW_SERVER_KEY: KEY });
    await until(() => (logsWith(good, 'the API node is not reachable').length ? true : undefined), 20_000, 50);
    expect(logsWith(good, 'the API node is not reachable')[0]).toMatchObject({ server: serverUrl });
    expect(await client.keys(`${WORKER_KEY_PREFIX}*`)).toEqual([]);

    server = await startTestServer(
      { MASKFLOW_REDIS_URL: redis.url, MASKFLOW_API_KEYS: KEY, MASKFLOW_PORT: String(port), MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint' },
      { nodeDirs: [REAL_NODES] },
    );
    const inputs = await testInputs();
    const upload = async (uri: string) => `upload:${(await api(server!, 'POST', '/v1/uploads', dataUriBytes(uri), { 'content-type': 'image/png', ...auth })).body.id}`;
    uploads = { image: await upload(inputs.imageUri), mask: await upload(inputs.maskUri) };
    const ready = await until(() => logsWith(good, 'maskflow worker ready')[0], 60_000, 50);
    good.id = ready.worker as string;
    await noModels;
  });

  it('refuses a worker with a wrong key before it takes any job; the others run every job', async () => {
    const bad = spawnWorker({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: serverUrl, MASKFLOW_SERVER_KEY: 'not-the-key' });
    const ids = await Promise.all([1, 2, 3].map(async () => (await api(server!, 'POST', '/v1/workflows/classical-fill/runs', { inputs: uploads }, auth)).body.id as string));
    expect(await bad.exited).toBe(1);
    const said = bad.logs.join('\n');
    expect(said).toContain('MASKFLOW_SERVER_KEY');
    expect(said).toContain(serverUrl);
    expect(said).toContain('HTTP 401');
    expect(logsWith(bad, 'maskflow worker ready')).toEqual([]);
    for (const id of ids) {
      const run = await finished(id);
      expect(run.status).toBe('succeeded');
      expect(run.attempts).toBe(1);
    }
    expect(await metric(/^maskflow_workers_refused_total (\d+)/m)).toBe(1);
  });

  it('sends a job that failed for lack of a model folder on its worker to another worker', async () => {
    const lacking = await noModels;
    // Occupy the good worker, so the one lacking models is the only free slot (if the lacking one
    // takes this job first, it goes back to the queue and on to the good one).
    const long = await inpaint(150);
    await until(async () => {
      const r = await runOf(long);
      return r.worker === good.id && r.progress?.step >= 1 ? true : undefined;
    }, 60_000, 50);
    const requeuedBefore = await metric(/^maskflow_job_redispatches_total\{reason="worker_error"\} (\d+)/m);
    const id = await inpaint(2);
    await until(async () => ((await runOf(id)).attempt_log?.some((a: { result: string }) => a.result === 'requeued') ? true : undefined), 30_000, 50);
    // It waits for a worker other than the one that failed it: free the good one.
    await api(server!, 'POST', `/v1/queue/requests/${long}/cancel`, undefined, auth);
    const run = await finished(id);
    expect(run.status).toBe('succeeded');
    expect(run.worker).toBe(good.id);
    expect(run.attempts).toBe(2);
    expect(run.attempt_log).toEqual([
      expect.objectContaining({ worker: lacking.id, result: 'requeued', error: expect.stringContaining(`worker ${lacking.id}: its models folder lacks`) }),
      expect.objectContaining({ worker: good.id, result: 'succeeded' }),
    ]);
    expect((await api(server!, 'GET', `/v1/queue/requests/${id}/status`, undefined, auth)).body).toMatchObject({ status: 'COMPLETED', worker: good.id });
    expect(await metric(/^maskflow_job_redispatches_total\{reason="worker_error"\} (\d+)/m)).toBe(requeuedBefore + 1);
    expect(logsWith(lacking, 'job finished').filter((l) => l.runId === id)).toEqual([expect.objectContaining({ result: 'run:error' })]);
  });

  it('/health lists the workers with slots, running jobs and last heartbeat', async () => {
    const health = (await api(server!, 'GET', '/health')).body;
    expect(health.redis).toMatchObject({ status: 'ok' });
    expect(health.workers.map((w: { id: string }) => w.id).sort()).toEqual([good.id, (await noModels).id].sort());
    for (const w of health.workers) {
      expect(w).toMatchObject({ slots: 1, jobs: expect.any(Array) });
      expect(Date.now() - Date.parse(w.last_heartbeat)).toBeLessThan(5000);
    }
  });

  it('stops workers whose key is revoked while they run; their job waits for a worker with a valid key', async () => {
    const lacking = await noModels;
    // The API node restarts with a new key: the workers' key is revoked.
    await server!.stop({ keepData: true });
    const NEW_KEY = 'faults-new-key';
    server = await startTestServer(
      { MASKFLOW_REDIS_URL: redis.url, MASKFLOW_API_KEYS: NEW_KEY, MASKFLOW_PORT: String(port), MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint' },
      { nodeDirs: [REAL_NODES], dataDir: server!.dataDir },
    );
    const newAuth = { authorization: `Bearer ${NEW_KEY}` };
    const id = (await api(server!, 'POST', '/v1/workflows/classical-fill/runs', { inputs: uploads }, newAuth)).body.id as string;
    // Each worker learns it from its next output upload or its periodic key check, and exits 1 saying why.
    for (const w of [good, lacking]) {
      const code = await w.exited;
      const said = w.logs.join('\n');
      expect(code, said.slice(-3000)).toBe(1);
      expect(said).toContain(`maskflow worker: the API node at ${serverUrl} refuses this worker's key (MASKFLOW_SERVER_KEY): HTTP 401`);
    }
    // Not failed: once the API node has the workers' last reports no run is open, and the job waits
    // (IN_QUEUE, or handed to Redis if a slot was still announced when it was re-queued).
    const waiting = await until(async () => {
      const r = (await api(server!, 'GET', `/v1/runs/${id}`, undefined, newAuth)).body;
      return (r.attempt_log ?? []).every((a: { result: string }) => a.result !== 'running') ? r : undefined;
    }, 20_000, 100);
    expect(['queued', 'running'], JSON.stringify(waiting)).toContain(waiting.status);
    for (const a of waiting.attempt_log ?? []) expect(a, JSON.stringify(waiting)).toMatchObject({ result: 'requeued', error: expect.stringContaining('refuses its key') });

    const fresh = await startWorker({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: serverUrl, MASKFLOW_SERVER_KEY: NEW_KEY });
    const end = await until(async () => {
      const r = (await api(server!, 'GET', `/v1/runs/${id}`, undefined, newAuth)).body;
      return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
    }, 60_000, 100);
    expect(end.status).toBe('succeeded');
    expect(end.worker).toBe(fresh.id);
  });
});
