// Scale-out failure paths, with API keys on (workers authenticate to the API node's file
// endpoints): an API node restart mid-job, a job whose workers die more often than allowed,
// and the internal output endpoint's guards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { api, finishedRun, REAL_NODES, startTestServer, tempDir, until, type TestServer } from '../server/helpers.js';
import { dataUriBytes, testInputs } from '../server/inpaint-helpers.js';
import { freePort, logsWith, startRedis, startWorker, stopAllWorkers, type TestRedis } from './helpers.js';

const KEY = 'scaleout-test-key';
const auth = { authorization: `Bearer ${KEY}` };
const dataDir = tempDir();
let redis: TestRedis;
let server: TestServer | undefined;
let port: number;
let uploads: { image: string; mask: string };

const start = async () =>
  startTestServer(
    { MASKFLOW_REDIS_URL: redis.url, MASKFLOW_API_KEYS: KEY, MASKFLOW_PORT: String(port), MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint' },
    { nodeDirs: [REAL_NODES], dataDir },
  );

beforeAll(async () => {
  redis = await startRedis();
  port = await freePort();
  server = await start();
  const inputs = await testInputs();
  const upload = async (uri: string) => `upload:${(await api(server!, 'POST', '/v1/uploads', dataUriBytes(uri), { 'content-type': 'image/png', ...auth })).body.id}`;
  uploads = { image: await upload(inputs.imageUri), mask: await upload(inputs.maskUri) };
});

afterAll(async () => {
  await stopAllWorkers();
  await server?.stop();
  await redis?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const runOf = async (id: string) => (await api(server!, 'GET', `/v1/runs/${id}`, undefined, auth)).body;
const finished = (id: string, timeoutMs = 60_000) => finishedRun(server!, id, { timeoutMs, headers: auth, everyMs: 100 });
const longInpaint = async () =>
  (
    await api(
      server!,
      'POST',
      '/v1/queue/inpaint',
      { prompt: 'a pear', image_url: uploads.image, mask_url: uploads.mask, num_inference_steps: 150, strength: 1, format: 'png', seed: 2 },
      auth,
    )
  ).body.request_id as string;
const atStep = (id: string, step: number) => until(async () => ((await runOf(id)).progress?.step >= step ? true : undefined), 60_000, 50);

describe('scale-out recovery', () => {
  it('guards the internal output endpoint (API key, passive content types only)', async () => {
    const url = `${server!.url}/v1/internal/files?ext=png`;
    expect((await fetch(url, { method: 'POST', body: 'x', headers: { 'content-type': 'image/png' } })).status).toBe(401);
    const html = await fetch(url, { method: 'POST', body: '<script>', headers: { 'content-type': 'text/html', ...auth } });
    expect(html.status).toBe(415);
    expect(((await html.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });

  it('does not rate-limit workers storing outputs', async () => {
    const limited = await startTestServer({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_API_KEYS: KEY, MASKFLOW_RATE_LIMIT_PER_MINUTE: '1' }, { nodeDirs: [REAL_NODES] });
    try {
      const png = dataUriBytes((await testInputs(8)).imageUri);
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${limited.url}/v1/internal/files?ext=png`, { method: 'POST', body: png, headers: { 'content-type': 'image/png', ...auth } });
        expect(r.status).toBe(201);
        const stored = (await r.json()) as { id: string; contentType: string };
        expect(stored.contentType).toBe('image/png');
        expect((await fetch(`${limited.url}/v1/files/${stored.id}`)).status).toBe(200);
      }
      expect((await api(limited, 'GET', '/v1/runs', undefined, auth)).status).toBe(200);
      expect((await api(limited, 'GET', '/v1/runs', undefined, auth)).status).toBe(429);
    } finally {
      await limited.stop();
    }
  });

  it('finishes a remote job across an API node restart', async () => {
    const worker = await startWorker({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: server!.url, MASKFLOW_SERVER_KEY: KEY });
    const id = await longInpaint();
    await atStep(id, 2);
    await server!.stop({ keepData: true });
    const stoppedAt = Date.now();
    server = await start();
    const end = await finished(id);
    const recoveredMs = Date.now() - stoppedAt;
    expect(end.status).toBe('succeeded');
    // Re-attached after the restart: one run, not two, and no restart counted against the attempt limit.
    expect(end.attempts).toBe(1);
    expect(end.worker).toBe(worker.id);
    expect(end.attempt_log).toEqual([expect.objectContaining({ worker: worker.id, result: 'succeeded' })]);
    expect(logsWith(worker, 'running job').filter((l) => l.runId === id)).toHaveLength(1);
    expect((await fetch(end.outputs.save.images[0].url)).status).toBe(200);
    // eslint-disable-next-line no-console
    console.info(`API node restart: job completed ${recoveredMs} ms after the API node stopped`);
    await stopAllWorkers();
  });

  it('fails a job with worker_lost when its workers die more often than MASKFLOW_JOB_MAX_ATTEMPTS allows', async () => {
    const env = { MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: server!.url, MASKFLOW_SERVER_KEY: KEY, MASKFLOW_JOB_MAX_ATTEMPTS: '1' };
    const first = await startWorker(env);
    const id = await longInpaint();
    await atStep(id, 2);
    await first.kill('SIGKILL');
    await startWorker(env); // its stall check finds the dead worker's job and gives up on it
    const end = await finished(id);
    expect(end.status).toBe('failed');
    expect(end.error.code).toBe('worker_lost');
    expect(end.error.message).toMatch(/stopped responding/);
  });
});
