// /v1/models over a real server and the fake Hub: pulls as jobs with websocket progress and
// GET status, shared downloads, failures in the job status, listing, deleting, API keys.
import { cpSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub, readTree, sha256 } from '../models/helpers/fake-hub.js';
import { api, connectWs, FIXTURE_MODELS, REPO, startTestServer, tempDir, until, type TestServer } from './helpers.js';

const KEY = { authorization: 'Bearer secret' };
let hub: FakeHub;
let server: TestServer;
let models: string;
const diffusers = readTree(path.join(REPO, 'test/fixtures/checkpoints/tiny-sdxl-inpaint-diffusers'));
const unet16 = diffusers.get('unet/diffusion_pytorch_model.fp16.safetensors')!;

beforeAll(async () => {
  hub = await new FakeHub().start();
  hub.addRepo('maskflow/tiny-sdxl-inpaint-diffusers', diffusers);
  hub.addRepo('maskflow/gated', new Map([['a.safetensors', diffusers.get('vae/diffusion_pytorch_model.fp16.safetensors')!]]), { gated: true });
  models = tempDir('mf-models-');
  // The catalogue lists real folders (not symlinks): a copy of the ONNX fixture model.
  cpSync(path.join(FIXTURE_MODELS, 'tiny-sdxl-inpaint'), path.join(models, 'tiny-sdxl-inpaint'), { recursive: true });
  server = await startTestServer({ MASKFLOW_MODELS_DIR: models, HF_ENDPOINT: hub.url, MASKFLOW_API_KEYS: 'secret' });
});
afterAll(async () => {
  await server?.stop();
  await hub?.close();
  rmSync(models, { recursive: true, force: true });
});

describe('/v1/models', () => {
  it('requires an API key when keys are set', async () => {
    expect((await api(server, 'GET', '/v1/models')).status).toBe(401);
    expect((await api(server, 'POST', '/v1/models/pull', { source: 'maskflow/tiny-sdxl-inpaint-diffusers' })).status).toBe(401);
    expect((await api(server, 'DELETE', '/v1/models/tiny-sdxl-inpaint')).status).toBe(401);
  });

  it('answers bad pull requests with 422 naming the field', async () => {
    const cases: Array<[object, string]> = [
      [{ source: 'not a repo' }, 'source'],
      [{ source: 'maskflow/x', name: '../etc' }, 'name'],
      [{ source: 'http://127.0.0.1:1/x.safetensors' }, 'source'],
      [{ source: 'maskflow/x', include: ['text_encoder'] }, 'include.0'],
      [{ source: 'maskflow/x', extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const r = await api(server, 'POST', '/v1/models/pull', body, KEY);
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(r.body.error.field).toContain(field);
    }
  });

  it('pulls as a job with websocket progress and GET status; two requests share one download', async () => {
    hub.throttle = { chunk: 256 * 1024, delayMs: 20 };
    hub.log.length = 0;
    const ws = await connectWs(server, { headers: KEY });
    const first = await api(server, 'POST', '/v1/models/pull', { source: 'maskflow/tiny-sdxl-inpaint-diffusers' }, KEY);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ kind: 'pull', status: expect.stringMatching(/queued|running/), shared: false });
    const second = await api(server, 'POST', '/v1/models/pull', { source: 'maskflow/tiny-sdxl-inpaint-diffusers' }, KEY);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: first.body.id, shared: true });
    const id = first.body.id as string;
    ws.send({ type: 'subscribe', runId: id });
    await ws.next((m) => m.type === 'subscribed' && m.runId === id);
    const status = await until(async () => {
      const s = await api(server, 'GET', `/v1/models/pulls/${id}`, undefined, KEY);
      return s.body.status === 'running' && s.body.progress?.bytes > 0 ? s : undefined;
    });
    expect(status.body.progress).toMatchObject({ phase: 'downloading', file_count: 18, total: expect.any(Number) });
    const done = await ws.next((m) => m.type === 'pull:done' && m.runId === id, 60_000);
    hub.throttle = undefined;
    expect(done.result).toMatchObject({ name: 'tiny-sdxl-inpaint-diffusers', format: 'diffusers', alreadyInstalled: false });
    const progress = ws.messages.filter((m) => m.type === 'pull:progress' && m.runId === id);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.some((m) => m.progress.file === 'unet/diffusion_pytorch_model.fp16.safetensors')).toBe(true);
    await ws.close();

    // One download of each file although two requests asked.
    expect(hub.log.filter((q) => q.url === `/cdn/${sha256(unet16)}`)).toHaveLength(1);
    const final = await api(server, 'GET', `/v1/models/pulls/${id}`, undefined, KEY);
    expect(final.body).toMatchObject({ status: 'succeeded', result: { name: 'tiny-sdxl-inpaint-diffusers', format: 'diffusers', bytes_downloaded: expect.any(Number) } });
    expect(sha256(await readFile(path.join(models, 'tiny-sdxl-inpaint-diffusers/unet/diffusion_pytorch_model.fp16.safetensors')))).toBe(sha256(unet16));

    const list = await api(server, 'GET', '/v1/models', undefined, KEY);
    expect(list.status).toBe(200);
    const byName = Object.fromEntries(list.body.models.map((m: { name: string }) => [m.name, m]));
    expect(byName['tiny-sdxl-inpaint-diffusers']).toMatchObject({ format: 'diffusers', kind: 'inpaint', compiled: false, source: { type: 'hub', repo: 'maskflow/tiny-sdxl-inpaint-diffusers' } });
    expect(byName['tiny-sdxl-inpaint-diffusers'].size).toBeGreaterThan(unet16.length);
    expect(byName['tiny-sdxl-inpaint']).toMatchObject({ format: 'onnx', kind: 'inpaint', compiled: true, complete: true });
    expect((await api(server, 'GET', '/v1/models/pulls', undefined, KEY)).body.pulls.map((p: { id: string }) => p.id)).toContain(id);
  });

  it('reports a failed pull in its status and over the websocket', async () => {
    const ws = await connectWs(server, { headers: KEY });
    const r = await api(server, 'POST', '/v1/models/pull', { source: 'maskflow/gated' }, KEY);
    expect(r.status).toBe(202);
    ws.send({ type: 'subscribe', runId: r.body.id });
    const err = await ws.next((m) => (m.type === 'pull:error' || m.type === 'pull:done') && m.runId === r.body.id);
    expect(err.type).toBe('pull:error');
    expect(err.error.code).toBe('hub_auth_required');
    const s = await api(server, 'GET', `/v1/models/pulls/${r.body.id}`, undefined, KEY);
    expect(s.body).toMatchObject({ status: 'failed', error: { code: 'hub_auth_required', message: expect.stringContaining('HF_TOKEN') } });
    await ws.close();
  });

  it('cancels a running pull without installing anything', async () => {
    hub.throttle = { chunk: 64 * 1024, delayMs: 50 };
    const r = await api(server, 'POST', '/v1/models/pull', { source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'cancelled-one' }, KEY);
    await until(async () => ((await api(server, 'GET', `/v1/models/pulls/${r.body.id}`, undefined, KEY)).body.progress?.bytes > 0 ? true : undefined));
    expect((await api(server, 'DELETE', '/v1/models/cancelled-one', undefined, KEY)).status).toBe(409);
    const c = await api(server, 'POST', `/v1/models/pulls/${r.body.id}/cancel`, undefined, KEY);
    expect(c.status).toBe(202);
    const s = await until(async () => {
      const x = await api(server, 'GET', `/v1/models/pulls/${r.body.id}`, undefined, KEY);
      return x.body.status === 'cancelled' ? x : undefined;
    });
    hub.throttle = undefined;
    expect(s.body.status).toBe('cancelled');
    const list = await api(server, 'GET', '/v1/models', undefined, KEY);
    expect(list.body.models.map((m: { name: string }) => m.name)).not.toContain('cancelled-one');
  });

  it('deletes an installed model', async () => {
    const d = await api(server, 'DELETE', '/v1/models/tiny-sdxl-inpaint-diffusers', undefined, KEY);
    expect(d.status).toBe(200);
    expect(d.body).toEqual({ name: 'tiny-sdxl-inpaint-diffusers', format: 'diffusers', deleted: true });
    const list = await api(server, 'GET', '/v1/models', undefined, KEY);
    expect(list.body.models.map((m: { name: string }) => m.name)).toEqual(['tiny-sdxl-inpaint']);
    expect((await api(server, 'DELETE', '/v1/models/tiny-sdxl-inpaint-diffusers', undefined, KEY)).status).toBe(404);
    expect((await api(server, 'DELETE', '/v1/models/..', undefined, KEY)).status).toBeGreaterThanOrEqual(400);
  });
});

describe('a model pulled through the API', () => {
  it('runs an inpainting request on the same server, without a restart', async () => {
    const { testInputs } = await import('./inpaint-helpers.js');
    const { REAL_NODES } = await import('./helpers.js');
    const onnxHub = await new FakeHub().start();
    onnxHub.addRepo('maskflow/tiny-sdxl-inpaint', readTree(path.join(FIXTURE_MODELS, 'tiny-sdxl-inpaint')));
    const dir = tempDir('mf-models-run-');
    const s = await startTestServer({ MASKFLOW_MODELS_DIR: dir, HF_ENDPOINT: onnxHub.url }, { nodeDirs: [REAL_NODES] });
    try {
      const started = await api(s, 'POST', '/v1/models/pull', { source: 'maskflow/tiny-sdxl-inpaint' });
      expect(started.status).toBe(202);
      const done = await until(async () => {
        const x = await api(s, 'GET', `/v1/models/pulls/${started.body.id}`);
        return x.body.status === 'running' || x.body.status === 'queued' ? undefined : x;
      }, 60_000);
      expect(done.body).toMatchObject({ status: 'succeeded', result: { name: 'tiny-sdxl-inpaint', format: 'onnx' } });
      const inputs = await testInputs();
      const r = await api(s, 'POST', '/v1/inpaint', { prompt: 'a red apple', image_url: inputs.imageUri, mask_url: inputs.maskUri, num_inference_steps: 2, model: 'tiny-sdxl-inpaint', seed: 1 });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.images).toHaveLength(1);
      // /health lists it (the listing is refreshed when a pull installs a model).
      expect((await api(s, 'GET', '/health')).body.models).toContainEqual(expect.objectContaining({ name: 'tiny-sdxl-inpaint', complete: true }));
    } finally {
      await s.stop();
      await onnxHub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
