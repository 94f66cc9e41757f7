// ControlNet from the REST API (`controlnets`) and from a workflow with the granular nodes
// (Load ControlNet -> Canny edges -> Apply ControlNet -> Denoise); bad input is a clear error.
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertControlNetFits } from '../../server/checkpoints/controlnets.js';
import { NodeError } from '../../server/engine/errors.js';
import { cannyEdges } from '../../server/image/canny.js';
import { api, REAL_NODES, startTestServer, type TestServer } from '../server/helpers.js';
import { dataUriBytes, testInputs } from '../server/inpaint-helpers.js';
import { FIXTURES } from '../sdxl/golden-io.js';
import { SINGLE, scratchModels } from './helpers.js';

const scratch = scratchModels();
let server: TestServer;
let base: Record<string, unknown>;
let control: string;

beforeAll(async () => {
  const inputs = await testInputs();
  mkdirSync(path.join(scratch.modelsDir, 'controlnet'));
  symlinkSync(path.join(FIXTURES, 'controlnet', 'tiny-controlnet'), path.join(scratch.modelsDir, 'controlnet', 'tiny-controlnet'), 'dir');
  const edges = await sharp(path.join(FIXTURES, 'controlnet', 'control_edges.png')).resize(64, 64).png().toBuffer();
  control = `data:image/png;base64,${edges.toString('base64')}`;
  server = await startTestServer({ MASKFLOW_MODELS_DIR: scratch.modelsDir, MASKFLOW_DEFAULT_MODEL: SINGLE }, { nodeDirs: [REAL_NODES] });
  base = { prompt: 'a bridge', image_url: inputs.imageUri, mask_url: inputs.maskUri, num_inference_steps: 2, format: 'png', seed: 5, sync_mode: true };
});
afterAll(async () => {
  await server?.stop();
  scratch.cleanup();
});

describe('ControlNet through the API', () => {
  it('controlnets changes the inpainted region; scale 0 equals no ControlNet', async () => {
    const plain = await api(server, 'POST', '/v1/inpaint', base);
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    const guided = await api(server, 'POST', '/v1/inpaint', { ...base, controlnets: [{ path: 'tiny-controlnet', control_image_url: control, conditioning_scale: 1.5 }] });
    expect(guided.status, JSON.stringify(guided.body)).toBe(200);
    const off = await api(server, 'POST', '/v1/inpaint', { ...base, controlnets: [{ path: 'tiny-controlnet', control_image_url: control, conditioning_scale: 0 }] });
    const bytes = (r: typeof plain) => dataUriBytes(r.body.images[0].url);
    const raw = async (b: Buffer) => (await sharp(b).raw().toBuffer()).toString('hex');
    expect(await raw(bytes(guided))).not.toBe(await raw(bytes(plain)));
    expect(await raw(bytes(off))).toBe(await raw(bytes(plain)));
  });

  it('bad ControlNet input names the field', async () => {
    const window = await api(server, 'POST', '/v1/inpaint', { ...base, controlnets: [{ path: 'tiny-controlnet', control_image_url: control, start: 0.6, end: 0.4 }] });
    expect(window.status).toBe(422);
    expect(window.body.error.field).toBe('controlnets.0.start');
    const scale = await api(server, 'POST', '/v1/inpaint', { ...base, controlnets: [{ path: 'tiny-controlnet', control_image_url: control, conditioning_scale: 99 }] });
    expect(scale.status).toBe(422);
    expect(JSON.stringify(scale.body)).toMatch(/controlnets/);
    const missing = await api(server, 'POST', '/v1/inpaint', { ...base, controlnets: [{ path: 'no-such-controlnet', control_image_url: control }] });
    expect(missing.status).toBeGreaterThanOrEqual(400);
    expect(missing.body.error).toMatchObject({ code: 'controlnet_not_found', field: 'controlnets.0.path', message: expect.stringMatching(/ControlNet "no-such-controlnet" not found/) });
    const badImage = await api(server, 'POST', '/v1/inpaint', { ...base, controlnets: [{ path: 'tiny-controlnet', control_image_url: 'data:image/png;base64,AAAA' }] });
    expect(badImage.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(badImage.body)).toMatch(/control_image_url/);
  });

  it('a workflow with Load ControlNet, Canny edges and Apply ControlNet runs', async () => {
    const wf = {
      version: 1,
      nodes: {
        model: { type: 'models/load-model', params: { model: SINGLE } },
        image: { type: 'image/load-image', params: { url: base.image_url } },
        mask: { type: 'mask/load-mask', params: { url: base.mask_url } },
        edges: { type: 'image/canny-edges', params: { low_threshold: 50, high_threshold: 150 }, inputs: { image: ['image', 'image'] } },
        cn: { type: 'models/load-controlnet', params: { controlnet: 'tiny-controlnet' } },
        apply: { type: 'conditioning/apply-controlnet', params: { strength: 0.8, start: 0, end: 0.5 }, inputs: { controlnet: ['cn', 'controlnet'], image: ['edges', 'image'], mask: ['mask', 'mask'] } },
        text: { type: 'conditioning/encode-text', params: { prompt: 'a bridge' }, inputs: { clip: ['model', 'clip'] } },
        encode: { type: 'latent/vae-encode', inputs: { vae: ['model', 'vae'], image: ['image', 'image'], mask: ['mask', 'mask'] } },
        sampler: { type: 'sampling/denoise', params: { steps: 2, seed: 1 }, inputs: { unet: ['model', 'unet'], positive: ['text', 'positive'], negative: ['text', 'negative'], latent: ['encode', 'latent'], control: ['apply', 'control'] } },
        decode: { type: 'latent/vae-decode', inputs: { vae: ['model', 'vae'], latent: ['sampler', 'latent'] } },
        save: { type: 'image/save-image', inputs: { image: ['decode', 'image'] } },
      },
    };
    const r = await api(server, 'POST', '/v1/runs?wait=1', { workflow: wf });
    expect(r.body.status, JSON.stringify(r.body)).toBe('succeeded');
  });
});

describe('ControlNet pieces', () => {
  it('a ControlNet that does not fit the UNet is named with what differs', () => {
    const cfg = { cross_attention_dim: 2048, projection_class_embeddings_input_dim: 2816, block_out_channels: [320, 640, 1280] };
    expect(() => assertControlNetFits({ name: 'cn', config: cfg as never }, { name: 'm', config: { ...cfg, cross_attention_dim: 1280 } })).toThrow(NodeError);
    expect(() => assertControlNetFits({ name: 'cn', config: cfg as never }, { name: 'm', config: { ...cfg, cross_attention_dim: 1280 } })).toThrow(/cross-attention width 2048 ≠ the UNet's 1280/);
  });

  it('Canny finds the edges of a square and nothing in flat areas', () => {
    const w = 32;
    const data = new Uint8Array(w * w * 3);
    for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) data.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const e = cannyEdges({ width: w, height: w, data }, 100, 200);
    expect(e[16 * w + 16]).toBe(0);
    expect(e[2 * w + 2]).toBe(0);
    const onBorder = [e[16 * w + 7], e[16 * w + 8]].some((v) => v === 255);
    expect(onBorder).toBe(true);
    // Thin: one edge pixel across the left border on every interior row.
    for (let y = 10; y < 22; y++) expect([6, 7, 8, 9].filter((x) => e[y * w + x] === 255)).toHaveLength(1);
  });
});

describe('ControlNet from the CLI', () => {
  it('maskflow run sdxl-inpaint with controlnets writes an image', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { mkdtempSync, readdirSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'maskflow-cn-cli-'));
    const bytes = (uri: string) => Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
    writeFileSync(path.join(dir, 'image.png'), bytes(base.image_url as string));
    writeFileSync(path.join(dir, 'mask.png'), bytes(base.mask_url as string));
    writeFileSync(path.join(dir, 'edges.png'), bytes(control));
    const controlnets = JSON.stringify([{ path: 'tiny-controlnet', control_image_url: path.join(dir, 'edges.png'), conditioning_scale: 0.8 }]);
    const args = ['bin/maskflow.mjs', 'run', 'sdxl-inpaint', '--models', scratch.modelsDir, '--out', path.join(dir, 'out'), '--quiet',
      '--input', `model=${SINGLE}`, '--input', `image=@${path.join(dir, 'image.png')}`, '--input', `mask=@${path.join(dir, 'mask.png')}`,
      '--input', 'steps=2', '--input', `controlnets=${controlnets}`];
    await promisify(execFile)(process.execPath, args, { env: { ...process.env, MASKFLOW_DATA_DIR: path.join(dir, 'data'), MASKFLOW_LOG_LEVEL: 'error' } });
    expect(readdirSync(path.join(dir, 'out')).some((f) => f.endsWith('.png') || f.endsWith('.jpg') || f.endsWith('.jpeg'))).toBe(true);
  }, 120_000);
});
