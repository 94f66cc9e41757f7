// ComfyUI's routes and websocket protocol against the real server (tiny fixture models).
import sharp from 'sharp';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, connectWs, until, type TestServer } from '../server/helpers.js';
import { readPngText } from '../../server/image/png-metadata.js';
import { inpaintPrompt } from './helpers.js';
import { uiInpaintWorkflow } from './ui-fixture.js';
import { photoWithHole, startComfyServer, toyPrompt, uploadImage } from './server-helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startComfyServer();
  const up = await uploadImage(server, await photoWithHole(), 'photo.png');
  expect(up).toEqual({ status: 200, body: { name: 'photo.png', subfolder: '', type: 'input' } });
});
afterAll(async () => {
  await server?.stop();
});

describe('ComfyUI discovery routes', () => {
  it('answer at / and /api/ in ComfyUI\'s shapes', async () => {
    for (const prefix of ['', '/api']) {
      expect((await api(server, 'GET', `${prefix}/prompt`)).body).toEqual({ exec_info: { queue_remaining: 0 } });
      const stats = (await api(server, 'GET', `${prefix}/system_stats`)).body;
      expect(stats.system).toMatchObject({ os: process.platform, embedded_python: false });
      expect(stats.devices[0]).toMatchObject({ type: 'cpu', index: 0, vram_total: 0 });
      expect((await api(server, 'GET', `${prefix}/extensions`)).body).toEqual([]);
      expect((await api(server, 'GET', `${prefix}/embeddings`)).body).toEqual([]);
      expect((await api(server, 'GET', `${prefix}/models`)).body).toEqual(['checkpoints', 'loras', 'embeddings', 'controlnet']);
      expect((await api(server, 'GET', `${prefix}/models/checkpoints`)).body).toEqual(['tiny-sdxl-base', 'tiny-sdxl-inpaint']);
      expect((await api(server, 'GET', `${prefix}/models/vae_approx`)).status).toBe(404);
      expect((await api(server, 'GET', `${prefix}/features`)).body).toMatchObject({ supports_preview_metadata: false });
      const info = (await api(server, 'GET', `${prefix}/object_info/LoadImage`)).body;
      expect(info.LoadImage.input.required.image[0]).toEqual(['photo.png']);
      expect((await api(server, 'GET', `${prefix}/object_info/NoSuchClass`)).body).toEqual({});
      const all = (await api(server, 'GET', `${prefix}/object_info`)).body;
      expect(all.CheckpointLoaderSimple.input.required.ckpt_name[0]).toEqual(['tiny-sdxl-base', 'tiny-sdxl-inpaint']);
      expect(all['mask/grow'].category).toBe('maskflow/mask');
    }
  });
});

describe('uploads and /view', () => {
  it('renames a different file of the same name, reuses an identical one, honours overwrite and subfolder', async () => {
    const a = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).png().toBuffer();
    const b = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0f0' } }).png().toBuffer();
    expect((await uploadImage(server, a, 'dup.png')).body.name).toBe('dup.png');
    expect((await uploadImage(server, a, 'dup.png')).body.name).toBe('dup.png');
    expect((await uploadImage(server, b, 'dup.png')).body.name).toBe('dup (1).png');
    expect((await uploadImage(server, b, 'dup.png', { overwrite: 'true' })).body.name).toBe('dup.png');
    expect((await uploadImage(server, a, 'x.png', { subfolder: 'sub', type: 'temp' }, '/api/upload/image')).body).toEqual({ name: 'x.png', subfolder: 'sub', type: 'temp' });
    const view = await fetch(`${server.url}/view?filename=dup.png&type=input`);
    expect(Buffer.from(await view.arrayBuffer())).toEqual(b);
    const temp = await fetch(`${server.url}/api/view?filename=x.png&subfolder=sub&type=temp`);
    expect(temp.status).toBe(200);
  });

  it('refuses what is not an image, names that leave the folder, and paths that escape on /view', async () => {
    expect((await uploadImage(server, Buffer.from('hello world, not an image'), 'a.png')).status).toBe(415);
    expect((await uploadImage(server, await photoWithHole(8, 2), '../evil.png')).status).toBe(400);
    expect((await uploadImage(server, await photoWithHole(8, 2), 'ok.png', { subfolder: '../../..' })).status).toBe(403);
    expect((await uploadImage(server, await photoWithHole(8, 2), 'ok.png', { type: 'models' })).status).toBe(400);
    expect((await fetch(`${server.url}/view?filename=../../jobs.sqlite&type=input`)).status).toBe(400);
    expect((await fetch(`${server.url}/view?filename=jobs.sqlite&subfolder=../..&type=input`)).status).toBe(403);
    expect((await fetch(`${server.url}/view?filename=%2Fetc%2Fpasswd`)).status).toBe(400);
    expect((await fetch(`${server.url}/view?filename=missing.png&type=input`)).status).toBe(404);
  });

  it('/upload/mask writes the mask\'s alpha into the original, as ComfyUI does', async () => {
    const orig = await sharp({ create: { width: 4, height: 2, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    await uploadImage(server, orig, 'orig.png');
    const alpha = Buffer.from([0, 255, 255, 0, 128, 128, 255, 255]);
    const rgba = Buffer.alloc(32);
    for (let i = 0; i < 8; i++) rgba[i * 4 + 3] = alpha[i]!;
    const mask = await sharp(rgba, { raw: { width: 4, height: 2, channels: 4 } }).png().toBuffer();
    const res = await uploadImage(server, mask, 'orig-mask.png', { original_ref: JSON.stringify({ filename: 'orig.png', subfolder: '', type: 'input' }) }, '/upload/mask');
    expect(res.body).toEqual({ name: 'orig-mask.png', subfolder: '', type: 'input' });
    const saved = await fetch(`${server.url}/view?filename=orig-mask.png&type=input`);
    const { data, info } = await sharp(Buffer.from(await saved.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    expect([...data.subarray(0, 4)]).toEqual([10, 20, 30, 0]);
    expect([...data].filter((_, i) => i % 4 === 3)).toEqual([...alpha]);
    const small = await sharp({ create: { width: 2, height: 2, channels: 4, background: '#0000' } }).png().toBuffer();
    expect((await uploadImage(server, small, 'm2.png', { original_ref: JSON.stringify({ filename: 'orig.png', type: 'input' }) }, '/upload/mask')).status).toBe(400);
    expect((await uploadImage(server, small, 'm3.png', { original_ref: JSON.stringify({ filename: '../x.png', type: 'input' }) }, '/upload/mask')).status).toBe(400);
  });
});

describe('POST /prompt', () => {
  it('reads the JSON body whatever the Content-Type, and answers validation errors in ComfyUI\'s shape', async () => {
    const bad = inpaintPrompt({ ckpt: 'nope.safetensors' });
    const res = await fetch(`${server.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: bad }) });
    expect(res.status).toBe(400);
    const body: any = await res.json();
    expect(body.error).toMatchObject({ type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation' });
    expect(body.node_errors['4'].errors[0].type).toBe('value_not_in_list');
    const text = await fetch(`${server.url}/api/prompt`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({}) });
    expect(text.status).toBe(400);
    expect(await text.json()).toEqual({ error: 'no prompt', node_errors: [] });
    const broken = await fetch(`${server.url}/prompt`, { method: 'POST', body: '{not json' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as any).error.code).toBe('invalid_json');
  });

  it('answers the server\'s limits (steps, sizes) in ComfyUI\'s shape too', async () => {
    const res = await api(server, 'POST', '/prompt', { prompt: toyPrompt(151, 1) });
    expect(res.status).toBe(400);
    expect(res.body.error.type).toBe('prompt_outputs_failed_validation');
    expect(res.body.node_errors.s).toMatchObject({ class_type: 'toy/slow', errors: [{ type: 'invalid_param', message: "steps 151 exceeds this server's limit of 150" }] });
  });
});

function parsePreview(frame: Buffer) {
  return { event: frame.readUInt32BE(0), format: frame.readUInt32BE(4), image: frame.subarray(8) };
}

describe('a prompt over ComfyUI\'s websocket', () => {
  it('streams status, execution_start/cached, executing, progress, previews, executed, success, executing null; history and /view give the image', async () => {
    const ws = await connectWs(server, { query: '?clientId=client-a' });
    const own = await connectWs(server); // maskflow's protocol on plain /ws
    expect((await own.next((m) => m.type === 'hello')).protocol).toBe(1);
    const first = await ws.next((m) => m.type === 'status');
    expect(first.data).toEqual({ status: { exec_info: { queue_remaining: 0 } }, sid: 'client-a' });
    const ui = uiInpaintWorkflow();
    const submit = await api(server, 'POST', '/prompt', { prompt: inpaintPrompt({ steps: 3 }), client_id: 'client-a', extra_data: { extra_pnginfo: { workflow: ui } } });
    expect(submit.status).toBe(200);
    const { prompt_id: id } = submit.body;
    expect(submit.body).toEqual({ prompt_id: expect.stringMatching(/^[0-9a-f-]{36}$/), number: expect.any(Number), node_errors: {} });
    const queued = (await api(server, 'GET', '/queue')).body;
    expect([...queued.queue_running, ...queued.queue_pending].map((q: any[]) => q[1])).toContain(id);
    await ws.next((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === id, 60_000);
    const mine = ws.messages.filter((m) => m.data?.prompt_id === id);
    const types = mine.map((m) => m.type);
    expect(types[0]).toBe('execution_start');
    expect(types[1]).toBe('execution_cached');
    expect(types.slice(-2)).toEqual(['execution_success', 'executing']);
    const executing = mine.filter((m) => m.type === 'executing' && m.data.node !== null).map((m) => m.data.node);
    expect(executing).toEqual(expect.arrayContaining(['4', '10', '11', '3', '8', '9']));
    const progress = mine.filter((m) => m.type === 'progress');
    expect(progress.map((m) => m.data)).toContainEqual({ value: 3, max: 3, prompt_id: id, node: '3' });
    const executed = mine.find((m) => m.type === 'executed');
    expect(executed.data).toMatchObject({ node: '9', display_node: '9', prompt_id: id });
    const [img] = executed.data.output.images;
    expect(img).toEqual({ filename: expect.stringMatching(/^inpaint_[A-Za-z0-9_-]{24}\.png$/), subfolder: '', type: 'output' });
    const statuses = ws.messages.filter((m) => m.type === 'status');
    expect(statuses.at(-1).data.status.exec_info.queue_remaining).toBe(0);
    // Previews: ComfyUI's binary layout, JPEG.
    expect(ws.frames.length).toBeGreaterThan(0);
    const p = parsePreview(ws.frames[0]!);
    expect([p.event, p.format, p.image[0], p.image[1]]).toEqual([1, 1, 0xff, 0xd8]);
    // The maskflow client saw nothing of it.
    expect(own.messages.filter((m) => m.type !== 'hello')).toEqual([]);

    const hist = (await api(server, 'GET', `/history/${id}`)).body[id];
    expect(hist.prompt).toEqual([submit.body.number, id, inpaintPrompt({ steps: 3 }), { extra_pnginfo: { workflow: ui }, client_id: 'client-a' }, ['9']]);
    expect(hist.outputs).toEqual({ '9': { images: [img] } });
    expect(hist.status).toMatchObject({ status_str: 'success', completed: true });
    expect(hist.status.messages.map((m: any[]) => m[0])).toEqual(['execution_start', 'execution_cached', 'execution_success']);
    const all = (await api(server, 'GET', '/api/history?max_items=1')).body;
    expect(Object.keys(all)).toEqual([id]);
    const view = await fetch(`${server.url}/view?${new URLSearchParams(img)}`);
    expect(view.headers.get('content-type')).toBe('image/png');
    const png = new Uint8Array(await view.arrayBuffer());
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
    // ComfyUI's metadata, so the image opens in ComfyUI (and in maskflow's importer) as its graph.
    const text = readPngText(png);
    expect(JSON.parse(text.prompt!)).toEqual(inpaintPrompt({ steps: 3 }));
    expect(JSON.parse(text.workflow!)).toEqual(ui);
    expect((await api(server, 'GET', '/queue')).body).toEqual({ queue_running: [], queue_pending: [] });
    // Delete from history; clear.
    await api(server, 'POST', '/history', { delete: [id] });
    expect((await api(server, 'GET', `/history/${id}`)).body).toEqual({});
    await ws.close();
    await own.close();
  });

  it('queues, deletes a waiting prompt, interrupts the running one, and reports runtime errors as execution_error', async () => {
    const ws = await connectWs(server, { query: '?clientId=client-b' });
    await ws.next((m) => m.type === 'status');
    const long = await api(server, 'POST', '/prompt', { prompt: inpaintPrompt({ steps: 40, seed: 1 }), client_id: 'client-b' });
    const waiting = await api(server, 'POST', '/prompt', { prompt: inpaintPrompt({ steps: 2, seed: 2 }), client_id: 'client-b' });
    const front = await api(server, 'POST', '/prompt', { prompt: inpaintPrompt({ steps: 2, seed: 3 }), client_id: 'client-b', front: true });
    expect(front.body.number).toBeLessThan(0);
    await ws.next((m) => m.type === 'progress' && m.data.prompt_id === long.body.prompt_id);
    const q = (await api(server, 'GET', '/queue')).body;
    expect(q.queue_running.map((x: any[]) => x[1])).toEqual([long.body.prompt_id]);
    expect(q.queue_pending.map((x: any[]) => x[1])).toEqual([front.body.prompt_id, waiting.body.prompt_id]);
    expect(q.queue_running[0]).toHaveLength(5);
    await api(server, 'POST', '/queue', { delete: [waiting.body.prompt_id, front.body.prompt_id] });
    expect((await api(server, 'GET', '/queue')).body.queue_pending).toEqual([]);
    expect((await api(server, 'POST', '/interrupt', { prompt_id: long.body.prompt_id })).status).toBe(200);
    const interrupted = await ws.next((m) => m.type === 'execution_interrupted');
    expect(interrupted.data).toMatchObject({ prompt_id: long.body.prompt_id, node_id: '3', node_type: 'KSampler' });
    await ws.next((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === long.body.prompt_id);
    const h = (await api(server, 'GET', `/history/${long.body.prompt_id}`)).body[long.body.prompt_id];
    expect(h.status).toMatchObject({ status_str: 'error', completed: false });
    expect(h.status.messages.at(-1)[0]).toBe('execution_interrupted');
    // Deleted while waiting: never in history.
    expect((await api(server, 'GET', `/history/${waiting.body.prompt_id}`)).body).toEqual({});

    // A runtime failure (a maskflow node used as a class, reading an upload that does not exist).
    const broken = {
      a: { class_type: 'image/load-image', inputs: { url: 'upload:AAAAAAAAAAAAAAAAAAAAAAAA' } },
      b: { class_type: 'PreviewImage', inputs: { images: ['a', 0] } },
    };
    const sub = await api(server, 'POST', '/prompt', { prompt: broken, client_id: 'client-b' });
    expect(sub.status).toBe(200);
    const err = await ws.next((m) => m.type === 'execution_error' && m.data.prompt_id === sub.body.prompt_id);
    expect(err.data).toMatchObject({ node_id: 'a', node_type: 'image/load-image', exception_type: expect.any(String), exception_message: expect.any(String), traceback: [], executed: [] });
    await ws.next((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === sub.body.prompt_id);
    expect((await api(server, 'GET', `/history/${sub.body.prompt_id}`)).body[sub.body.prompt_id].status.status_str).toBe('error');
    await api(server, 'POST', '/history', { clear: true });
    expect((await api(server, 'GET', '/history')).body).toEqual({});
    await ws.close();
  });
});

describe('API keys and durability', () => {
  it('applies API keys to ComfyUI\'s routes and websocket', async () => {
    const keyed = await startComfyServer({ MASKFLOW_API_KEYS: 'sekret' });
    try {
      expect((await api(keyed, 'GET', '/prompt')).status).toBe(401);
      expect((await api(keyed, 'GET', '/api/object_info/KSampler')).status).toBe(401);
      expect((await uploadImage(keyed, await photoWithHole(8, 2), 'a.png')).status).toBe(401);
      expect((await api(keyed, 'GET', '/prompt', undefined, { authorization: 'Bearer sekret' })).status).toBe(200);
      await expect(connectWs(keyed, { query: '?clientId=x' })).rejects.toThrow(/401/);
      // /view: an input file needs the key; a stored output's name is a capability (its unguessable file id), like /v1/files/<id>.
      const auth = { authorization: 'Bearer sekret' };
      expect((await uploadImage(keyed, await photoWithHole(8, 2), 'in.png', {}, '/upload/image', auth)).status).toBe(200);
      expect((await fetch(`${keyed.url}/view?filename=in.png&type=input`)).status).toBe(401);
      expect((await fetch(`${keyed.url}/view?filename=in.png&type=input`, { headers: auth })).status).toBe(200);
      const stored = (await api(keyed, 'POST', '/v1/uploads', await photoWithHole(8, 2), { ...auth, 'content-type': 'image/png' })).body;
      expect((await fetch(`${keyed.url}/view?filename=ComfyUI_${stored.id}.png&type=output`)).status).toBe(200);
      expect((await fetch(`${keyed.url}/view?filename=ComfyUI_${'A'.repeat(24)}.png&type=output`)).status).toBe(401);
      const ws = await connectWs(keyed, { query: '?clientId=x&token=sekret' });
      expect((await ws.next((m) => m.type === 'status')).data.sid).toBe('x');
      await ws.close();
    } finally {
      await keyed.stop();
    }
  });

  it('a prompt accepted before a restart is still in /queue or /history after it, and runs', async () => {
    // Toy nodes (maskflow node types as classes): the server stops mid-run without inference in flight.
    const first = await startComfyServer({ MASKFLOW_WORKERS: '1' });
    const dataDir = first.dataDir;
    const running = (await api(first, 'POST', '/prompt', { prompt: toyPrompt(100, 20, 1) })).body.prompt_id;
    const queued = (await api(first, 'POST', '/prompt', { prompt: toyPrompt(2, 1, 42) })).body.prompt_id;
    await until(async () => ((await api(first, 'GET', '/queue')).body.queue_running.length ? true : undefined));
    const before = (await api(first, 'GET', '/queue')).body;
    expect(before.queue_running.map((x: any[]) => x[1])).toEqual([running]);
    expect(before.queue_pending.map((x: any[]) => x[1])).toEqual([queued]);
    await first.stop({ keepData: true });
    const second = await startComfyServer({}, dataDir);
    try {
      const after = (await api(second, 'GET', '/queue')).body;
      expect([...after.queue_running, ...after.queue_pending].map((x: any[]) => x[1]).sort()).toEqual([running, queued].sort());
      const h = await until(async () => {
        const body = (await api(second, 'GET', '/history')).body;
        return body[running]?.status.completed && body[queued]?.status.completed ? body : undefined;
      }, 60_000);
      expect(h[queued].outputs).toEqual({ out: { result: 42 } });
      expect(h[running].outputs).toEqual({ out: { result: 1 } });
      const n = (await api(second, 'POST', '/prompt', { prompt: toyPrompt(1, 1) })).body.number;
      expect(n).toBe(2); // the counter continues after 0 and 1
    } finally {
      await second.stop();
    }
  });
});

describe('bounded queue', () => {
  it('a full queue refuses a prompt with 503', async () => {
    const small = await startComfyServer({ MASKFLOW_MAX_QUEUE: '1' });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await api(small, 'POST', '/prompt', { prompt: toyPrompt(100, 10, i) })).status);
      expect(codes).toContain(503);
      await api(small, 'POST', '/queue', { clear: true });
      await api(small, 'POST', '/interrupt');
      await until(async () => ((await api(small, 'GET', '/prompt')).body.exec_info.queue_remaining === 0 ? true : undefined));
    } finally {
      await small.stop();
    }
  });
});

it('maskflow\'s own websocket still works on /ws without clientId', async () => {
  const raw = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/ws`);
  const msg = await new Promise<any>((resolve) => raw.once('message', (d) => resolve(JSON.parse(String(d)))));
  expect(msg.type).toBe('status');
  expect(msg.data.sid).toMatch(/^[0-9a-f]{32}$/);
  raw.close();
});
