// Scale-out mode end to end: a real redis-server, the API node in-process (MASKFLOW_REDIS_URL,
// no worker threads) and `maskflow worker` child processes that reach it over HTTP for files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { decodeFrame } from '../../server/ws/protocol.js';
import { api, finishedRun, connectWs, REAL_NODES, startTestServer, until, type TestServer } from '../server/helpers.js';
import { dataUriBytes, testInputs } from '../server/inpaint-helpers.js';
import { startRedis, startWorker, stopAllWorkers, type TestRedis, type TestWorker } from './helpers.js';

let redis: TestRedis;
let server: TestServer;
let workerEnv: Record<string, string>;
let uploads: { image: string; mask: string };

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({ MASKFLOW_REDIS_URL: redis.url, MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint' }, { nodeDirs: [REAL_NODES] });
  workerEnv = { MASKFLOW_REDIS_URL: redis.url, MASKFLOW_SERVER_URL: server.url };
  const inputs = await testInputs();
  const upload = async (uri: string) => {
    const r = await api(server, 'POST', '/v1/uploads', dataUriBytes(uri), { 'content-type': 'image/png' });
    expect(r.status).toBe(201);
    return `upload:${r.body.id}`;
  };
  uploads = { image: await upload(inputs.imageUri), mask: await upload(inputs.maskUri) };
});

afterAll(async () => {
  await stopAllWorkers();
  await server?.stop();
  await redis?.stop();
});

const runStatus = async (id: string) => (await api(server, 'GET', `/v1/runs/${id}`)).body;
const finished = (id: string, timeoutMs = 60_000) => finishedRun(server, id, { timeoutMs, everyMs: 100 });
const inpaint = (steps: number) =>
  api(server, 'POST', '/v1/queue/inpaint', { prompt: 'a red apple', image_url: uploads.image, mask_url: uploads.mask, num_inference_steps: steps, strength: 1, format: 'png', seed: 1 });
const classicalFill = () => api(server, 'POST', '/v1/workflows/classical-fill/runs', { inputs: { image: uploads.image, mask: uploads.mask } });

let worker: TestWorker;

describe('scale-out over Redis/BullMQ', () => {
  it('queues jobs while no worker is connected and runs them when one connects', async () => {
    const health0 = await api(server, 'GET', '/health');
    expect(health0.status).toBe(503);
    expect(health0.body.queue.capacity).toBe(0);
    expect(health0.body.workers).toEqual([]);
    expect(health0.body.execution_mode).toBe('scale-out');

    const fill = await classicalFill();
    expect(fill.status).toBe(202);
    const job = await inpaint(2);
    expect(job.status).toBe(202);
    const status = await api(server, 'GET', `/v1/queue/requests/${job.body.request_id}/status`);
    expect(status.body).toMatchObject({ status: 'IN_QUEUE', queue_position: 1 });
    expect((await runStatus(fill.body.id)).status).toBe('queued');

    worker = await startWorker(workerEnv);
    const done = await finished(fill.body.id);
    expect(done.status).toBe('succeeded');
    // The output was stored on the API node through HTTP and is served from there.
    const url: string = done.outputs.save.images[0].url;
    expect(url.startsWith(`${server.url}/v1/files/`)).toBe(true);
    const file = await fetch(url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect((await sharp(Buffer.from(await file.arrayBuffer())).metadata()).width).toBe(64);
    expect((await finished(job.body.request_id)).status).toBe('succeeded');

    // Heartbeats refresh about every second: wait until the worker reports itself idle again.
    const health = await until(async () => {
      const h = await api(server, 'GET', '/health');
      return h.status === 200 && h.body.workers[0]?.state === 'idle' ? h.body : undefined;
    });
    expect(health.queue.capacity).toBe(1);
    expect(health.workers).toEqual([expect.objectContaining({ id: worker.id, slots: 1, state: 'idle', restarts: 0 })]);
    expect((await api(server, 'GET', '/metrics')).body).toMatch(/maskflow_worker_capacity 1/);
  });

  it('streams per-step progress and preview frames of a remote inpaint to websocket subscribers', async () => {
    const c = await connectWs(server);
    const job = await inpaint(4);
    const runId: string = job.body.request_id;
    c.send({ type: 'subscribe', runId, ref: 's' });
    const done = await c.next((m) => m.type === 'run:done' && m.runId === runId, 60_000);
    const steps = c.messages.filter((m) => m.type === 'node:progress' && m.runId === runId && m.nodeId === 'sampler');
    expect(steps.map((s) => s.done)).toEqual([1, 2, 3, 4]);
    expect(c.messages.some((m) => m.type === 'node:done' && m.runId === runId && m.nodeId === 'sampler')).toBe(true);
    const frame = decodeFrame(c.frames.at(-1)!);
    expect(frame.header).toMatchObject({ runId, nodeId: 'sampler', step: 4, total: 4, mime: 'image/jpeg' });
    expect([...frame.payload.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect(done.outputs.save.images[0].url).toMatch(/\/v1\/files\//);
    const result = await api(server, 'GET', `/v1/queue/requests/${runId}`);
    expect(result.status).toBe(200);
    expect((await fetch(result.body.images[0].url)).status).toBe(200);
    await c.close();
  });

  it('cancels a running remote job, and the worker takes the next one', async () => {
    const job = await inpaint(150);
    const runId: string = job.body.request_id;
    await until(async () => ((await runStatus(runId)).progress?.step >= 2 ? true : undefined), 60_000, 50);
    const cancel = await api(server, 'POST', `/v1/queue/requests/${runId}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.status).toBe('CANCELLATION_REQUESTED');
    const end = await finished(runId, 20_000);
    expect(end.status).toBe('cancelled');
    expect((await api(server, 'GET', `/v1/queue/requests/${runId}/status`)).body.status).toBe('CANCELLED');

    const next = await classicalFill();
    expect((await finished(next.body.id)).status).toBe('succeeded');
    expect(worker.logs.some((l) => l.includes(next.body.id) && l.includes('job finished'))).toBe(true);
  });

  // About 18 s alone (a worker start, a lock expiry, a re-run); the allowance is for a loaded machine.
  it('loses no job when a worker is killed mid-run: another worker finishes it', { timeout: 120_000 }, async () => {
    const other = await startWorker(workerEnv);
    const job = await inpaint(150);
    const runId: string = job.body.request_id;
    const running = await until(async () => {
      const r = await runStatus(runId);
      return r.progress?.step >= 2 && r.worker ? r : undefined;
    }, 60_000, 50);
    const [victim, second] = running.worker === worker.id ? [worker, other] : [other, worker];
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    const end = await finished(runId, 60_000);
    const recoveredMs = Date.now() - killedAt;
    expect(end.status).toBe('succeeded');
    expect(second.logs.some((l) => l.includes(runId) && l.includes('job finished'))).toBe(true);
    // Two runs: the first lost with its worker, the second finished it.
    expect(end.attempts).toBe(2);
    expect(end.worker).toBe(second.id);
    expect(end.attempt_log).toEqual([
      expect.objectContaining({ worker: victim.id, result: 'lost', error: expect.stringContaining(victim.id) }),
      expect.objectContaining({ worker: second.id, result: 'succeeded' }),
    ]);
    const metrics = (await api(server, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^maskflow_worker_losses_total 1$/m);
    // eslint-disable-next-line no-console
    console.info(`worker kill -9: job completed on another worker ${recoveredMs} ms after the kill`);
    // The dead worker's heartbeat expires: only the new one is listed.
    const health = await until(async () => {
      const h = (await api(server, 'GET', '/health')).body;
      return h.workers.length === 1 ? h : undefined;
    }, 20_000, 200);
    expect(health.workers[0].id).toBe(second.id);

    // SIGTERM: the worker finishes, leaves the heartbeat list at once and exits cleanly.
    const exited = new Promise<number | null>((resolve) => second.proc.once('exit', (code) => resolve(code)));
    second.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const after = await until(async () => {
      const h = await api(server, 'GET', '/health');
      return h.body.workers.length === 0 ? h : undefined;
    }, 10_000, 100);
    expect(after.body.queue.capacity).toBe(0);
  });
});
