// ComfyUI's npm clients, unchanged, against maskflow: a full inpaint (upload, queue, progress,
// previews, result bytes), cancel and errors, with prompts built from ComfyUI's class names.
import sharp from 'sharp';
import WebSocket from 'ws';
import { ComfyUIClient } from 'comfy-ui-client';
import { Client, HttpError, Workflow, WorkflowExecutionError, WorkflowInterruptedError } from '@stable-canvas/comfyui-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../server/helpers.js';
import { inpaintPrompt } from './helpers.js';
import { photoWithHole, startComfyServer } from './server-helpers.js';

let server: TestServer;
let host: string;
let photo: Buffer;
beforeAll(async () => {
  server = await startComfyServer();
  host = server.url.replace(/^http:\/\//, '');
  photo = await photoWithHole();
});
afterAll(async () => {
  await server?.stop();
});

/** The pixels of a decoded PNG. */
async function pixels(bytes: ArrayBuffer | Buffer) {
  return sharp(Buffer.from(bytes as ArrayBuffer)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
}

describe('comfy-ui-client', () => {
  it('uploads, queues an inpainting prompt and gets the image back through /history and /view', async () => {
    const client = new ComfyUIClient(host, 'comfy-ui-client-test');
    await client.connect();
    try {
      const up = await client.uploadImage(photo, 'client-photo.png', true);
      expect(up).toEqual({ name: 'client-photo.png', subfolder: '', type: 'input' });
      const out = await client.getImages(inpaintPrompt({ image: up.name, steps: 2 }) as never);
      const [img] = out['9']!;
      expect(img!.image).toMatchObject({ filename: expect.stringMatching(/^inpaint_.+\.png$/), subfolder: '', type: 'output' });
      const { info, data } = await pixels(await img!.blob.arrayBuffer());
      expect([info.width, info.height]).toEqual([64, 64]);
      expect(data.length).toBe(64 * 64 * 3);
      const stats = await client.getSystemStats();
      expect(stats.devices[0]!.type).toBe('cpu');
      const queue = await client.getQueue();
      expect(queue).toEqual({ queue_running: [], queue_pending: [] });
    } finally {
      await client.disconnect();
    }
  });
});

describe('@stable-canvas/comfyui-client', () => {
  let client: Client;
  beforeAll(async () => {
    client = new Client({ api_host: host, WebSocket, fetch: globalThis.fetch });
    await client.connect();
  });
  afterAll(() => client?.close());

  /** ComfyUI's own classes through the client's workflow builder. */
  function build(opts: { image: string; steps: number; ckpt?: string; sampler?: string }) {
    const wf = new Workflow();
    const cls = wf.classes;
    const [model, clip, vae] = cls.CheckpointLoaderSimple({ ckpt_name: opts.ckpt ?? 'tiny-sdxl-inpaint' });
    const [image, mask] = cls.LoadImage({ image: opts.image });
    const [positive] = cls.CLIPTextEncode({ text: 'a red apple', clip });
    const [negative] = cls.CLIPTextEncode({ text: '', clip });
    const [latent] = cls.VAEEncodeForInpaint({ pixels: image, vae, mask, grow_mask_by: 4 });
    const [samples] = cls.KSampler({
      seed: 5,
      steps: opts.steps,
      cfg: 6,
      sampler_name: opts.sampler ?? 'dpmpp_2m',
      scheduler: 'karras',
      denoise: 1,
      model,
      positive,
      negative,
      latent_image: latent,
    });
    const [decoded] = cls.VAEDecode({ samples, vae });
    cls.SaveImage({ images: decoded, filename_prefix: 'canvas' });
    return wf;
  }

  it('runs the inpaint with progress and previews and returns the image URL and bytes', async () => {
    const form = new FormData();
    form.append('image', new Blob([photo]), 'canvas-photo.png');
    const up = await (await fetch(`${server.url}/upload/image`, { method: 'POST', body: form })).json() as { name: string };
    const progress: Array<{ value: number; max: number; node: string }> = [];
    const { prompt } = build({ image: up.name, steps: 3 }).workflow();
    const result = await client.enqueue(prompt, { progress: (p) => progress.push(p as never) });
    expect(progress.filter((p) => p.node === '6').map((p) => [p.value, p.max])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    const urls = result.images.filter((i) => i.type === 'url');
    expect(urls).toHaveLength(1);
    expect(String(urls[0]!.data)).toMatch(/\/view\?filename=canvas_.+\.png&subfolder=&type=output$/);
    // Step previews arrive as binary frames and are collected as image buffers.
    expect(result.images.some((i) => i.type === 'buff')).toBe(true);
    const res = await fetch(String(urls[0]!.data));
    const { info } = await pixels(await res.arrayBuffer());
    expect([info.width, info.height]).toEqual([64, 64]);
    const history = await client.getHistory(10);
    expect(history.History.some((h: any) => h.prompt[1] === result.prompt_id && h.status.status_str === 'success')).toBe(true);
  });

  it('cancels a running prompt: the invoked workflow rejects as interrupted', async () => {
    const inst = build({ image: 'canvas-photo.png', steps: 60 }).instance(client);
    await inst.enqueue();
    await new Promise<void>((resolve) => inst.on('progress', () => resolve()));
    const done = inst.wait();
    await inst.interrupt();
    await expect(done).rejects.toBeInstanceOf(WorkflowInterruptedError);
    expect((await client.getPromptStatus(inst.task_id!)).done).toBe(true);
  });

  it('reports validation errors at enqueue and runtime errors as execution errors', async () => {
    const invalid = build({ image: 'canvas-photo.png', steps: 2, sampler: 'heun' }).workflow().prompt;
    const err = await client.enqueue(invalid).catch((e: unknown) => e);
    // The client surfaces ComfyUI's 400 body as it receives it.
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).json.node_errors['6'].errors[0].details).toContain("sampler_name: 'heun' not in");
    const broken = { '1': { class_type: 'image/load-image', inputs: { url: 'upload:AAAAAAAAAAAAAAAAAAAAAAAA' } }, '2': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } } };
    // The client listens for its prompt's messages only once POST /prompt has answered; a prompt
    // that fails within milliseconds could beat that answer, so it waits behind a longer one.
    const ahead = build({ image: 'canvas-photo.png', steps: 60 }).workflow().prompt;
    const first = await fetch(`${server.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: ahead }) });
    expect(first.status).toBe(200);
    const failed = await client.enqueue(broken).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(WorkflowExecutionError);
    expect((failed as WorkflowExecutionError).payload).toMatchObject({ node_id: '1', node_type: 'image/load-image' });
  });
});
