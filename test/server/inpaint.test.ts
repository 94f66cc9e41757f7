// POST /v1/inpaint and its queue variant on the real SDXL workflow with the tiny fixture
// model (few steps, 64x64): outputs, seeds, sync_mode, validation, SSRF, previews.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame } from '../../server/ws/protocol.js';
import { api, connectWs, REAL_NODES, REPO, startTestServer, until, type TestServer } from './helpers.js';
import { changedOutside, dataUriBytes, decodeRgb, SIZE, testInputs } from './inpaint-helpers.js';

let server: TestServer;
let inputs: Awaited<ReturnType<typeof testInputs>>;
let base: Record<string, unknown>;

beforeAll(async () => {
  inputs = await testInputs();
  server = await startTestServer({ MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint' }, { nodeDirs: [REAL_NODES] });
  base = { prompt: 'a red apple', image_url: inputs.imageUri, mask_url: inputs.maskUri, num_inference_steps: 3, format: 'png' };
});
afterAll(async () => {
  await server?.stop();
});

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  return new Uint8Array(await r.arrayBuffer());
}

describe('POST /v1/inpaint', () => {
  it('inpaints synchronously: PNG served under an unguessable id, pixels outside the feathered mask unchanged', async () => {
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, seed: 7 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ seed: 7, prompt: 'a red apple', has_nsfw_concepts: [false], request_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(r.body.images).toHaveLength(1);
    const img = r.body.images[0];
    expect(img).toMatchObject({ width: SIZE, height: SIZE, content_type: 'image/png' });
    expect(img.url).toMatch(new RegExp(`^${server.url}/v1/files/[A-Za-z0-9_-]{24,}$`));
    expect(r.body.timings.inference_ms).toBeGreaterThan(0);
    const out = await decodeRgb(await fetchBytes(img.url));
    expect([out.width, out.height]).toEqual([SIZE, SIZE]);
    const { changed, compared } = changedOutside(out.data, inputs.image, SIZE, 8);
    expect(compared).toBeGreaterThan(1000);
    expect(changed).toBe(0);
    // Inside the mask the model painted something else.
    expect(changedOutside(out.data, inputs.image, SIZE, -100).changed).toBeGreaterThan(0);

    // The job record keeps what reproduces it: params, seed, model content hash, versions.
    const job = await until(async () => {
      const j = await api(server, 'GET', `/v1/runs/${r.body.request_id}`);
      return j.body.hashes ? j.body : undefined;
    });
    expect(job).toMatchObject({ kind: 'inpaint', status: 'succeeded', seed: 7, model: 'tiny-sdxl-inpaint', workflow: 'sdxl-inpaint' });
    expect(job.hashes['model:tiny-sdxl-inpaint']).toMatch(/^[0-9a-f]{64}$/);
    expect(job.versions).toMatchObject({ maskflow: expect.any(String), onnxruntime: expect.any(String) });
  });

  it('reports model loads and step times in /metrics', async () => {
    const text: string = (await api(server, 'GET', '/metrics')).body;
    expect(Number(/maskflow_model_loads_total\{worker="0"\} (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/maskflow_step_seconds_count\{node_type="sampling\/denoise"\} [1-9]/);
    expect(text).toMatch(/maskflow_node_duration_seconds_count\{node_type="sampling\/denoise"\} [1-9]/);
    expect((await api(server, 'GET', '/health')).body.execution_provider).toBe('cpu');
  });

  it('maps a failure inside the run back to the request field', async () => {
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, image_url: 'data:image/png;base64,aGVsbG8gd29ybGQ=' });
    expect(r.status).toBe(422);
    expect(r.body.error.field).toBe('image_url');
    expect(r.body.error.request_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('returns data URIs with sync_mode, JPEG by default', async () => {
    const { format: _f, ...noFormat } = base;
    const r = await api(server, 'POST', '/v1/inpaint', { ...noFormat, seed: 1, sync_mode: true });
    expect(r.status).toBe(200);
    const img = r.body.images[0];
    expect(img.url).toMatch(/^data:image\/jpeg;base64,/);
    expect(img.content_type).toBe('image/jpeg');
    const decoded = await decodeRgb(dataUriBytes(img.url));
    expect(decoded.width).toBe(SIZE);
  });

  it('makes num_images distinct images; image i is reproducible with seed + i; a missing seed is chosen and returned', async () => {
    const two = await api(server, 'POST', '/v1/inpaint', { ...base, seed: 100, num_images: 2, sync_mode: true });
    expect(two.status).toBe(200);
    expect(two.body.images).toHaveLength(2);
    expect(two.body.has_nsfw_concepts).toEqual([false, false]);
    const [a, b] = await Promise.all(two.body.images.map((i: any) => decodeRgb(dataUriBytes(i.url))));
    expect(a!.data.equals(b!.data)).toBe(false);
    const second = await api(server, 'POST', '/v1/inpaint', { ...base, seed: 101, sync_mode: true });
    expect((await decodeRgb(dataUriBytes(second.body.images[0].url))).data.equals(b!.data)).toBe(true);
    const again = await api(server, 'POST', '/v1/inpaint', { ...base, seed: 100, sync_mode: true });
    expect((await decodeRgb(dataUriBytes(again.body.images[0].url))).data.equals(a!.data)).toBe(true);

    const random = await api(server, 'POST', '/v1/inpaint', { ...base, sync_mode: true });
    expect(Number.isInteger(random.body.seed)).toBe(true);
    const replay = await api(server, 'POST', '/v1/inpaint', { ...base, seed: random.body.seed, sync_mode: true });
    const same = (await decodeRgb(dataUriBytes(replay.body.images[0].url))).data.equals((await decodeRgb(dataUriBytes(random.body.images[0].url))).data);
    expect(same).toBe(true);
  });

  it('accepts uploads as image_url and mask_url', async () => {
    const upload = async (uri: string) => (await api(server, 'POST', '/v1/uploads', new Uint8Array(dataUriBytes(uri)), { 'content-type': 'image/png' })).body;
    const [img, mask] = [await upload(inputs.imageUri), await upload(inputs.maskUri)];
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, image_url: img.url, mask_url: `upload:${mask.id}`, seed: 7 });
    expect(r.status).toBe(200);
    const missing = await api(server, 'POST', '/v1/inpaint', { ...base, image_url: `${server.url}/v1/files/AAAAAAAAAAAAAAAAAAAAAAAA` });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toMatchObject({ code: 'upload_not_found', field: 'image_url' });
  });
});

describe('LoRAs and embeddings', () => {
  it('applies an uploaded LoRA and an uploaded embedding, recording their content hashes', async () => {
    const upload = async (file: string) => {
      const bytes = new Uint8Array(readFileSync(path.join(REPO, 'test/fixtures', file)));
      const r = await api(server, 'POST', '/v1/uploads', bytes, { 'content-type': 'application/octet-stream' });
      expect(r.status).toBe(201);
      expect(r.body.content_type).toBe('application/x-safetensors');
      return r.body;
    };
    const lora = await upload('lora/tinylora_kohya.safetensors');
    const emb = await upload('textual_inversion/tiny-ti.safetensors');
    const plain = await api(server, 'POST', '/v1/inpaint', { ...base, seed: 11, sync_mode: true });
    const withLora = await api(server, 'POST', '/v1/inpaint', { ...base, seed: 11, sync_mode: true, loras: [{ path: lora.url, scale: 0.8 }] });
    expect(withLora.status).toBe(200);
    const [a, b] = await Promise.all([plain, withLora].map((r) => decodeRgb(dataUriBytes(r.body.images[0].url))));
    expect(a!.data.equals(b!.data)).toBe(false);
    const job = await until(async () => (await api(server, 'GET', `/v1/runs/${withLora.body.request_id}`)).body.hashes?.[`lora:upload:${lora.id}`] ? (await api(server, 'GET', `/v1/runs/${withLora.body.request_id}`)).body : undefined);
    expect(job.hashes[`lora:upload:${lora.id}`]).toMatch(/^[0-9a-f]{64}$/);

    const withEmb = await api(server, 'POST', '/v1/inpaint', { ...base, prompt: 'a photo of <t0> <t1>', seed: 11, embeddings: [{ path: `upload:${emb.id}`, tokens: ['<t0>', '<t1>'] }] });
    expect(withEmb.status).toBe(200);
    const named = await api(server, 'POST', '/v1/inpaint', { ...base, loras: [{ path: 'no-such-lora' }] });
    expect(named.status).toBe(422);
    expect(named.body.error.field).toBe('loras');
  });
});

describe('queue variant', () => {
  it('answers 202 with URLs, reports status and the result, honours Idempotency-Key', async () => {
    const r = await api(server, 'POST', '/v1/queue/inpaint', { ...base, seed: 7 }, { 'Idempotency-Key': 'same' });
    expect(r.status).toBe(202);
    const id = r.body.request_id;
    expect(r.body).toMatchObject({
      status: expect.stringMatching(/IN_QUEUE|IN_PROGRESS/),
      status_url: `${server.url}/v1/queue/requests/${id}/status`,
      response_url: `${server.url}/v1/queue/requests/${id}`,
      cancel_url: `${server.url}/v1/queue/requests/${id}/cancel`,
    });
    const dup = await api(server, 'POST', '/v1/queue/inpaint', { ...base, seed: 7 }, { 'Idempotency-Key': 'same' });
    expect(dup.body.request_id).toBe(id);
    const reused = await api(server, 'POST', '/v1/queue/inpaint', { ...base, seed: 8 }, { 'Idempotency-Key': 'same' });
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: 'idempotency_key_reused', field: 'Idempotency-Key' });
    const seen = new Set<string>();
    await until(async () => {
      const s = await api(server, 'GET', `/v1/queue/requests/${id}/status`);
      seen.add(s.body.status);
      if (s.body.status === 'IN_PROGRESS') expect(s.body.progress).toMatchObject({ step: expect.any(Number), total: expect.any(Number) });
      return s.body.status === 'COMPLETED' ? s : undefined;
    }, 60_000, 10);
    const result = await api(server, 'GET', `/v1/queue/requests/${id}`);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ request_id: id, seed: 7, images: [{ content_type: 'image/png', width: SIZE }] });
    const out = await decodeRgb(await fetchBytes(result.body.images[0].url));
    expect(changedOutside(out.data, inputs.image, SIZE, 8).changed).toBe(0);
  });

  it('cancels a queued request', async () => {
    const first = await api(server, 'POST', '/v1/queue/inpaint', { ...base, num_inference_steps: 40 });
    const second = await api(server, 'POST', '/v1/queue/inpaint', base);
    const c = await api(server, 'PUT', `/v1/queue/requests/${second.body.request_id}/cancel`);
    expect(c.status).toBe(202);
    expect((await api(server, 'GET', `/v1/queue/requests/${second.body.request_id}/status`)).body.status).toBe('CANCELLED');
    await api(server, 'PUT', `/v1/queue/requests/${first.body.request_id}/cancel`);
    await until(async () => (await api(server, 'GET', `/v1/queue/requests/${first.body.request_id}/status`)).body.status === 'CANCELLED', 60_000);
    expect((await api(server, 'GET', `/v1/queue/requests/${first.body.request_id}`)).status).toBe(409);
  });

  it('POSTs the result to webhook_url when allowed, and refuses private webhook hosts', async () => {
    const refused = await api(server, 'POST', '/v1/queue/inpaint', { ...base, webhook_url: 'http://127.0.0.1:9/hook' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.field).toBe('webhook_url');
  });
});

describe('validation', () => {
  const cases: Array<[string, Record<string, unknown>, string, number?]> = [
    ['missing prompt', { prompt: undefined }, 'prompt'],
    ['empty prompt', { prompt: '' }, 'prompt'],
    ['strength too low', { strength: 0 }, 'strength'],
    ['strength too high', { strength: 1.5 }, 'strength'],
    ['strength wrong type', { strength: 'high' }, 'strength'],
    ['unknown preset', { image_size: 'square_xl' }, 'image_size'],
    ['size too big', { image_size: { width: 99999, height: 512 } }, 'image_size.width'],
    ['size missing height', { image_size: { width: 512 } }, 'image_size.height'],
    ['num_images 0', { num_images: 0 }, 'num_images'],
    ['num_images 9', { num_images: 9 }, 'num_images'],
    ['num_images fractional', { num_images: 1.5 }, 'num_images'],
    ['steps too many', { num_inference_steps: 100000 }, 'num_inference_steps'],
    ['guidance wrong type', { guidance_scale: '7' }, 'guidance_scale'],
    ['negative seed', { seed: -1 }, 'seed'],
    ['bad format', { format: 'gif' }, 'format'],
    ['sync_mode wrong type', { sync_mode: 'yes' }, 'sync_mode'],
    ['unknown parameter', { colour: 'red' }, 'colour'],
    ['bad scheduler', { scheduler: 'nope' }, 'scheduler'],
    ['unknown model', { model: 'not-a-model' }, 'model'],
    ['lora without path', { loras: [{ scale: 1 }] }, 'loras.0.path'],
    ['bad image url', { image_url: 'not a url' }, 'image_url'],
    ['missing mask', { mask_url: undefined }, 'mask_url'],
    ['negative prompt wrong type', { negative_prompt: 5 }, 'negative_prompt'],
    ['lora scale out of range', { loras: [{ path: 'upload:x', scale: 9 }] }, 'loras.0.scale'],
    ['embeddings wrong type', { embeddings: 'x' }, 'embeddings'],
    ['expand_prompt wrong type', { expand_prompt: 'yes' }, 'expand_prompt'],
    ['safety checker wrong type', { enable_safety_checker: 1 }, 'enable_safety_checker'],
    ['priority out of range', { priority: 1000 }, 'priority'],
    ['image_size wrong type', { image_size: 512 }, 'image_size'],
    ['file url', { image_url: 'file:///etc/passwd' }, 'image_url'],
  ];
  for (const [name, patch, field] of cases) {
    it(`refuses ${name} with 422 naming ${field}`, async () => {
      const body = { ...base, ...patch };
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete (body as Record<string, unknown>)[k];
      const r = await api(server, 'POST', '/v1/inpaint', body);
      expect(r.status).toBe(422);
      expect(r.body.error.field).toBe(field);
      expect(r.body.error.message).toEqual(expect.any(String));
    });
  }

  it('refuses a non-object body with 400', async () => {
    expect((await api(server, 'POST', '/v1/inpaint', [1, 2])).status).toBe(400);
  });
});

describe('SSRF', () => {
  let target: http.Server;
  let targetUrl: string;
  beforeAll(async () => {
    target = http.createServer((_req, res) => res.end('secret'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/x.png`;
  });
  afterAll(() => new Promise<void>((r) => target.close(() => r())));

  for (const url of ['http://127.0.0.1/x.png', 'http://localhost/x.png', 'http://[::1]/x.png', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/a.png', 'http://0x7f000001/a.png', 'ftp://example.com/a.png']) {
    it(`refuses ${url}`, async () => {
      const r = await api(server, 'POST', '/v1/inpaint', { ...base, image_url: url });
      expect(r.status).toBe(422);
      expect(r.body.error.field).toBe('image_url');
      expect(r.body.error.code).toMatch(/^url_/);
    });
  }

  it('refuses a mask on a private host, and never contacts it', async () => {
    let hits = 0;
    target.on('request', () => hits++);
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, mask_url: targetUrl });
    expect(r.status).toBe(422);
    expect(r.body.error.field).toBe('mask_url');
    expect(hits).toBe(0);
  });
});

describe('websocket with the SDXL workflow', () => {
  it('streams one progress event per denoise step and JPEG preview frames', async () => {
    const c = await connectWs(server);
    c.send({
      type: 'run',
      ref: 'sd',
      name: 'sdxl-inpaint',
      inputs: { prompt: 'a cat', image: inputs.imageUri, mask: inputs.maskUri, steps: 4, strength: 1, seed: 3, model: 'tiny-sdxl-inpaint' },
    });
    const q = await c.next((m) => m.ref === 'sd');
    expect(q.type).toBe('run:queued');
    const done = await c.next((m) => m.type === 'run:done' && m.runId === q.runId, 60_000);
    const steps = c.messages.filter((m) => m.type === 'node:progress' && m.runId === q.runId && m.nodeId === 'sampler');
    expect(steps.map((s) => s.done)).toEqual([1, 2, 3, 4]);
    expect(c.frames.length).toBeGreaterThan(0);
    const frame = decodeFrame(c.frames.at(-1)!);
    expect(frame.type).toBe(1);
    expect(frame.header).toMatchObject({ runId: q.runId, nodeId: 'sampler', step: 4, total: 4, mime: 'image/jpeg' });
    expect([...frame.payload.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect(done.outputs.save.images[0].url).toMatch(/\/v1\/files\//);
    await c.close();
  });
});
