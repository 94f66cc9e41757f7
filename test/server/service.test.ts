// Service surface with toy nodes: health under load, metrics, errors, limits, uploads and
// files, OpenAPI document, docs page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { Validator } from '@seriousme/openapi-schema-validator';
import { api, blockingWorkflow, startTestServer, toyWorkflow, until, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MASKFLOW_MAX_BODY_MB: '1', MASKFLOW_MAX_MODEL_FILE_MB: '1', MASKFLOW_MAX_WORKFLOW_NODES: '3', MASKFLOW_URL_ALLOWLIST: '127.0.0.1' });
});
afterAll(async () => {
  await server?.stop();
});

describe('health and metrics', () => {
  it('answers /health within 50 ms while a job blocks its worker', async () => {
    // The job busy-blocks its worker thread for 2 s, as a synchronous ORT run() does. If that
    // blocked the event loop, every answer would wait for it. Absolute latencies depend on the
    // machine's load (shared 2-core CI), so: the fastest of several answers is under 50 ms and
    // none waits for the blocked worker.
    const job = await api(server, 'POST', '/v1/runs', { workflow: blockingWorkflow(2000) });
    await until(async () => (await api(server, 'GET', `/v1/runs/${job.body.id}`)).body.status === 'running');
    const times: number[] = [];
    let body: any;
    for (let i = 0; i < 8; i++) {
      const r = await api(server, 'GET', '/health');
      expect(r.status).toBe(200);
      times.push(r.ms);
      body = r.body;
    }
    expect((await api(server, 'GET', `/v1/runs/${job.body.id}`)).body.status).toBe('running');
    expect(Math.min(...times)).toBeLessThan(50);
    expect(Math.max(...times)).toBeLessThan(1000);
    expect(body).toMatchObject({ status: 'ok', execution_provider: 'cpu', queue: { depth: 0, running: 1, capacity: 1 } });
    expect(body.workers[0]).toMatchObject({ state: 'busy', job: job.body.id });
    expect(body.models.map((m: any) => m.name)).toEqual(expect.arrayContaining(['tiny-sdxl-inpaint', 'tiny-sdxl-base']));
    await until(async () => (await api(server, 'GET', `/v1/runs/${job.body.id}`)).body.status === 'succeeded');
  });

  it('exposes Prometheus metrics', async () => {
    await api(server, 'POST', '/v1/runs?wait=1', { workflow: toyWorkflow(3, 5) });
    await api(server, 'POST', '/v1/runs?wait=1', { workflow: toyWorkflow(3, 5) }); // constant node cached
    const r = await api(server, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    const text: string = r.body;
    expect(text).toMatch(/# TYPE maskflow_queue_wait_seconds histogram/);
    expect(text).toMatch(/maskflow_job_duration_seconds_count\{kind="run",status="succeeded"\} [1-9]/);
    expect(text).toMatch(/maskflow_node_duration_seconds_bucket\{node_type="toy\/slow",le="\+Inf"\} [1-9]/);
    expect(text).toMatch(/maskflow_step_seconds_count\{node_type="toy\/slow"\} [1-9]/);
    expect(text).toMatch(/maskflow_cache_hits_total\{node_type="toy\/constant"\} [1-9]/);
    expect(text).toMatch(/maskflow_queue_depth 0/);
    expect(Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(10 * 2 ** 20);
    expect(text).toMatch(/maskflow_http_requests_total\{method="POST",route="\/v1\/runs",status="200"\} 2/);
  });
});

describe('errors and limits', () => {
  it('answers JSON errors with fitting statuses', async () => {
    const notFound = await api(server, 'GET', '/v1/nope');
    expect(notFound.status).toBe(404);
    expect(notFound.body.error).toMatchObject({ code: 'not_found', message: expect.any(String) });

    const badJson = await api(server, 'POST', '/v1/runs', '{"workflow":', { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('invalid_json');

    const wrongType = await api(server, 'POST', '/v1/runs', 'workflow=1', { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);

    const big = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(), pad: 'x'.repeat(1.2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');

    const wf = toyWorkflow();
    (wf.nodes as any).extra = { type: 'toy/constant' };
    const tooMany = await api(server, 'POST', '/v1/runs', { workflow: wf });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.error.problems.map((p: any) => p.code)).toContain('too_many_nodes');
  });

  it('reports a failing node with its id, and survives a crashing worker', async () => {
    const failing = {
      version: 1,
      nodes: { c: { type: 'toy/constant' }, f: { type: 'toy/fail', inputs: { value: ['c', 'value'] } }, out: { type: 'toy/sink', inputs: { value: ['f', 'value'] } } },
    };
    const r = await api(server, 'POST', '/v1/runs?wait=1', { workflow: failing });
    expect(r.body.status).toBe('failed');
    expect(r.body.error).toMatchObject({ code: 'toy_failure', nodeId: 'f', input: 'value' });
    (failing.nodes.f as any).params = { crash: true };
    const crash = await api(server, 'POST', '/v1/runs?wait=1', { workflow: failing });
    expect(crash.body.status).toBe('failed');
    expect(crash.body.error.code).toBe('worker_crashed');
    const after = await api(server, 'POST', '/v1/runs?wait=1', { workflow: toyWorkflow(1, 1), inputs: { value: 8 } });
    expect(after.body.outputs.out.result).toBe(8);
  });
});

describe('hostile input', () => {
  it('answers every malformed request with a JSON error and keeps serving', async () => {
    const bodies: unknown[] = [
      null, 0, 'text', [], [1], {}, { workflow: null }, { workflow: { version: 2 } }, { workflow: { version: 1, nodes: [] } },
      { workflow: { version: 1, nodes: { a: { type: 'toy/sink', inputs: { value: ['a', 'value'] } } } } },
      { workflow: { version: 1, nodes: { ['__proto__']: { type: 'toy/constant' } } } },
      { prompt: 'x', image_url: 'data:image/png;base64,!!!!', mask_url: 'upload:../../etc/passwd' },
      { prompt: { toString: 1 }, image_size: { width: 'NaN' }, loras: 'x', seed: 1e300 },
      { inputs: { value: 'not an int' } },
    ];
    const paths = ['/v1/inpaint', '/v1/queue/inpaint', '/v1/runs', '/v1/workflows/x/runs', '/v1/workflows/fuzz', '/v1/uploads', '/v1/queue/requests/x/cancel'];
    for (const p of paths) {
      for (const b of bodies) {
        const method = p === '/v1/workflows/fuzz' || p.endsWith('/cancel') ? 'PUT' : 'POST';
        const r = await api(server, method, p, JSON.stringify(b), { 'content-type': 'application/json' });
        expect(r.status, `${method} ${p} ${JSON.stringify(b)}`).toBeGreaterThanOrEqual(200);
        if (r.status >= 400) {
          expect([400, 404, 409, 413, 415, 422, 503], `${p} ${JSON.stringify(b)} -> ${r.status}`).toContain(r.status);
          expect(r.body.error, `${p} ${JSON.stringify(b)}`).toMatchObject({ code: expect.any(String), message: expect.any(String) });
        }
      }
    }
    for (const raw of ['{', '{"a":', '\u0000', '{"a":1}}', 'null']) {
      const r = await api(server, 'POST', '/v1/runs', raw, { 'content-type': 'application/json' });
      expect(r.status).toBe(400);
    }
    const badPath = await api(server, 'GET', '/v1/runs/%E0%A4%A');
    expect([400, 404]).toContain(badPath.status);
    expect(badPath.body.error.code).toEqual(expect.any(String));
    expect((await api(server, 'GET', '/health')).status).toBe(200);
  });
});

describe('uploads and files', () => {
  it('stores multipart and raw uploads and serves them by id', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).png().toBuffer();
    const form = new FormData();
    form.append('file', new Blob([png], { type: 'image/png' }), 'a.png');
    const res = await fetch(`${server.url}/v1/uploads`, { method: 'POST', body: form });
    expect(res.status).toBe(201);
    const up = (await res.json()) as any;
    expect(up.id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(up.url).toBe(`${server.url}/v1/files/${up.id}`);
    const file = await fetch(up.url);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer()).equals(png)).toBe(true);

    const raw = await api(server, 'POST', '/v1/uploads', new Uint8Array(png), { 'content-type': 'application/octet-stream' });
    expect(raw.status).toBe(201);
    const text = await api(server, 'POST', '/v1/uploads', 'hello world', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect((await api(server, 'POST', '/v1/uploads', new Uint8Array(2 * 1024 * 1024), { 'content-type': 'image/png' })).status).toBe(413);
    expect((await api(server, 'GET', '/v1/files/AAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
  });
});

describe('webhooks', () => {
  it('POSTs the finished run to webhook_url (allow-listed host)', async () => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: any }> = [];
    const hook = http.createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(data) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    try {
      const r = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1), inputs: { value: 6 }, webhook_url: url });
      expect(r.status).toBe(202);
      const got = await until(() => received[0]);
      expect(got.headers['x-maskflow-request-id']).toBe(r.body.id);
      expect(got.body).toMatchObject({ request_id: r.body.id, status: 'OK', payload: { status: 'succeeded', outputs: { out: { result: 6 } } } });
      const bad = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1), webhook_url: 'http://10.1.2.3/hook' });
      expect(bad.status).toBe(422);
      expect(bad.body.error.field).toBe('webhook_url');
    } finally {
      await new Promise<void>((r) => hook.close(() => r()));
    }
  });
});

describe('API description', () => {
  it('serves a valid OpenAPI document and a docs page', async () => {
    const r = await api(server, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(r.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(r.body.paths['/v1/inpaint'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/InpaintRequest');
    const req = r.body.components.schemas.InpaintRequest;
    expect(req.required).toEqual(expect.arrayContaining(['prompt', 'image_url', 'mask_url']));
    expect(req.properties.num_images.maximum).toBe(8);
    const docs = await api(server, 'GET', '/docs');
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    expect(docs.body).toContain('/v1/queue/inpaint');
    const nodes = await api(server, 'GET', '/v1/nodes');
    expect(nodes.body.nodes.find((n: any) => n.type === 'toy/slow').params.properties.steps.minimum).toBe(1);
  });
});
