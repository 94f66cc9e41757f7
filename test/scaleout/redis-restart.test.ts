// Redis restarted with its state lost (empty data dir, no persistence) while jobs run on two
// `maskflow worker` processes and others wait: the running jobs are re-attached (not run again),
// the waiting ones start once Redis is back, /health says Redis is unreachable meanwhile, and
// every job completes exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { api, REAL_NODES, startTestServer, until, type TestServer } from '../server/helpers.js';
import { dataUriBytes, testInputs } from '../server/inpaint-helpers.js';
import { logsWith, startRedis, startWorker, stopAllWorkers, type TestRedis, type TestWorker } from './helpers.js';

let redis: TestRedis;
let server: TestServer;
let workers: TestWorker[];
let uploads: { image: string; mask: string };

beforeAll(async () => {
  redis = await startRedis();
  // Long runs (more steps than the default limit of 150), so they span the outage.
  server = await startTestServer({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint', MASKFLOW_MAX_STEPS: '500' }, { nodeDirs: [REAL_NODES] });
  const env = { MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: server.url, MASKFLOW_MAX_STEPS: '500' };
  const starting = Promise.all([startWorker(env), startWorker(env)]);
  const inputs = await testInputs();
  const upload = async (uri: string) => `upload:${(await api(server, 'POST', '/v1/uploads', dataUriBytes(uri), { 'content-type': 'image/png' })).body.id}`;
  uploads = { image: await upload(inputs.imageUri), mask: await upload(inputs.maskUri) };
  workers = await starting;
});

afterAll(async () => {
  await stopAllWorkers();
  await server?.stop();
  await redis?.stop();
});

const runOf = async (id: string) => (await api(server, 'GET', `/v1/runs/${id}`)).body;
const inpaint = async (steps: number, seed: number, images = 1) => {
  const r = await api(server, 'POST', '/v1/queue/inpaint', {
    prompt: 'a fig', image_url: uploads.image, mask_url: uploads.mask, num_inference_steps: steps, num_images: images, strength: 1, format: 'png', seed,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.request_id as string;
};

describe('scale-out across a Redis restart that loses its state', () => {
  // About 12 s alone; the allowance is for a machine loaded by other test files.
  it('completes every job exactly once: running ones re-attach, waiting ones start when Redis is back', { timeout: 120_000 }, async () => {
    const running = [await inpaint(300, 1), await inpaint(300, 2)];
    await until(async () => ((await Promise.all(running.map(runOf))).every((r) => r.progress?.step >= 2) ? true : undefined), 60_000, 50);
    const waiting = [await inpaint(3, 3), await inpaint(3, 4)];
    expect((await runOf(waiting[0]!)).status).toBe('queued');

    const down = redis.restart(1000);
    const during = await until(async () => {
      const h = await api(server, 'GET', '/health');
      return h.body.redis?.status === 'unreachable' ? h : undefined;
    }, 10_000, 100);
    expect(during.status).toBe(503);
    expect(during.body.workers).toEqual([]);
    await down;
    const back = Date.now();
    // The API node has heard nothing since Redis went away: for it they still run (on a fast machine they
    // may have finished during the outage; then their stored results are what re-attaching finds).
    for (const r of await Promise.all(running.map(runOf))) expect(r.status).toBe('running');
    const stepsAtBack = (await Promise.all(running.map(runOf))).map((r) => r.progress.step as number);
    // Progress flows again once the workers and the API node reconnected by themselves.
    await until(async () => ((await Promise.all(running.map(runOf))).every((r, i) => r.status !== 'running' || r.progress.step > stepsAtBack[i]!) ? true : undefined), 20_000, 50);
    const progressMs = Date.now() - back;

    const all = [...running, ...waiting];
    const ends = await until(async () => {
      const rs = await Promise.all(all.map(runOf));
      return rs.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status)) ? rs : undefined;
    }, 90_000, 100);
    const recoveredMs = Date.now() - back;
    for (const r of ends) {
      expect(r.status).toBe('succeeded');
      expect(r.attempts).toBe(1);
      expect(r.attempt_log).toEqual([expect.objectContaining({ result: 'succeeded', worker: r.worker })]);
    }
    // Each job ran once, on one worker.
    for (const id of all) {
      const starts = workers.flatMap((w) => logsWith(w, 'running job').filter((l) => l.runId === id));
      expect(starts).toHaveLength(1);
    }
    // No output file beyond the results (and the two uploads).
    const files = readdirSync(path.join(server.dataDir, 'files')).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(2 + all.length);
    const metrics = (await api(server, 'GET', '/metrics')).body as string;
    expect(metrics).not.toMatch(/^maskflow_duplicate_runs_total \d/m);
    expect(metrics).not.toMatch(/^maskflow_worker_losses_total \d/m);

    const health = await until(async () => {
      const h = await api(server, 'GET', '/health');
      return h.status === 200 && h.body.workers.length === 2 ? h.body : undefined;
    }, 10_000, 100);
    expect(health.redis.status).toBe('ok');
    // eslint-disable-next-line no-console
    console.info(`redis restart: progress events again ${progressMs} ms, all ${all.length} jobs completed ${recoveredMs} ms after Redis was back`);
  });
});
