// ControlNets compiled by maskflow reproduce diffusers: the ControlNet alone (component
// goldens, residuals 1e-4) and the SDXL ControlNet inpaint / txt2img pipelines (final latents
// 2e-3, image 1e-4), including a guidance window that ends half-way.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-node';
import { floatInput, inputMeta, numericInput, outputF32 } from '../../server/models/ort-io.js';
import { controlKeep, controlResiduals, prepareControlImage } from '../../server/sdxl/controlnet.js';
import { replayGoldenCase } from '../../server/sdxl/golden-replay.js';
import { goldenMain } from '../../server/sdxl/golden-cli.js';
import { decodeImage } from '../../server/image/io.js';
import { FIXTURES, GOLDENS, maxAbsDiff, readF32, readTensor, type TensorSpec } from '../sdxl/golden-io.js';
import { BASE, SINGLE, scratchModels, storeFor } from './helpers.js';

const scratch = scratchModels();
const store = storeFor(scratch.modelsDir, scratch.compiledDir);
afterAll(() => scratch.cleanup());
const CN = path.join(FIXTURES, 'controlnet', 'tiny-controlnet');

describe('ControlNet graph (component goldens, 1e-4)', () => {
  it.each(['controlnet_b2_16x16_t500_s080', 'controlnet_b1_24x16_t999_s100'])('%s', async (c) => {
    const dir = path.join(FIXTURES, 'components', c);
    const m = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> };
    const { session } = await store.controlNet(CN);
    const feeds: Record<string, Tensor> = {};
    for (const [name, spec] of Object.entries(m.inputs)) {
      const data = readTensor(dir, spec);
      feeds[name] = data instanceof Float32Array ? floatInput(inputMeta(session, name), data, spec.shape) : numericInput(inputMeta(session, name), Array.from(data as BigInt64Array, Number), spec.shape);
    }
    const out = await session.run(feeds);
    expect(Object.keys(out).sort()).toEqual(Object.keys(m.outputs).sort());
    for (const [name, spec] of Object.entries(m.outputs)) expect(maxAbsDiff(outputF32(out[name], name), readTensor(dir, spec) as Float32Array), name).toBeLessThanOrEqual(1e-4);
  });

  it('prepares the control image as diffusers does (exact tensor)', async () => {
    const { image } = await decodeImage(new Uint8Array(readFileSync(path.join(FIXTURES, 'controlnet', 'control_edges.png'))), { maxPixels: 2 ** 24 });
    const t = prepareControlImage(image, 128, 128);
    expect(maxAbsDiff(t, readF32(path.join(FIXTURES, 'controlnet', 'control_edges.bin')))).toBe(0);
  });

  it('keeps the guidance window of diffusers (strict > at the end, n = steps run)', () => {
    expect([0, 1, 2, 3].map((i) => controlKeep(i, 4, 0, 0.5))).toEqual([1, 1, 0, 0]);
    expect([0, 1, 2, 3].map((i) => controlKeep(i, 4, 0.25, 1))).toEqual([0, 1, 1, 1]);
  });
});

describe('several ControlNets (MultiControlNet)', () => {
  it('sum their residuals: the same ControlNet at 0.3 and 0.5 equals it once at 0.8', async () => {
    const dir = path.join(FIXTURES, 'components', 'controlnet_b2_16x16_t500_s080');
    const m = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { inputs: Record<string, TensorSpec> };
    const { session } = await store.controlNet(CN);
    const t = (n: string) => readTensor(dir, m.inputs[n]!);
    const f = (n: string) => floatInput(inputMeta(session, n), t(n) as Float32Array, m.inputs[n]!.shape);
    const feeds = { sample: f('sample'), timestep: numericInput(inputMeta(session, 'timestep'), Array.from(t('timestep') as BigInt64Array, Number), [1]), encoder_hidden_states: f('encoder_hidden_states'), text_embeds: f('text_embeds'), time_ids: f('time_ids') };
    const unet = await store.getSession({ model: SINGLE, loras: [], embeddings: [] }, 'unet');
    const cond = f('controlnet_cond');
    const app = (scale: number) => ({ session, cond, app: { controlnet: { path: CN, name: 'cn' }, image: { width: 1, height: 1, data: new Uint8Array(3) }, scale, start: 0, end: 1 } });
    const two = await controlResiduals(unet, [app(0.3), app(0.5)], feeds, 0, 1);
    const one = await controlResiduals(unet, [app(0.8)], feeds, 0, 1);
    expect(Object.keys(two).sort()).toEqual(Object.keys(one).sort());
    for (const k of Object.keys(one)) expect(maxAbsDiff(outputF32(two[k], k), outputF32(one[k], k)), k).toBeLessThan(1e-4);
    // Outside every window nothing is fed (the UNet keeps its zero residuals).
    expect(await controlResiduals(unet, [{ ...app(1), app: { ...app(1).app, start: 0.5 } }], feeds, 0, 2)).toEqual({});
  });
});

describe('ControlNet pipeline goldens', () => {
  it.each([
    ['cn_inpaint9_euler_s100', SINGLE],
    ['cn_inpaint9_dpmpp2mk_s070_window', SINGLE],
    ['cn_txt2img_base_euler', BASE],
  ])('%s from %s', async (c, model) => {
    const dir = path.join(GOLDENS, c);
    const r = await replayGoldenCase(dir, { store, model, options: { controlnet: CN } });
    const d = { final_latents: maxAbsDiff(r.finalLatents, readF32(path.join(dir, 'final_latents.bin'))), image_out: maxAbsDiff(r.imageOut, readF32(path.join(dir, 'image_out.bin'))) };
    process.stdout.write(`${c}: ${JSON.stringify(d)}\n`);
    expect(d.final_latents).toBeLessThanOrEqual(2e-3);
    expect(d.image_out).toBeLessThanOrEqual(1e-4);
  });

  it('the golden CLI runs a case with --models <root with checkpoints/> and the ControlNet its params name', async () => {
    const lines: string[] = [];
    const code = await goldenMain([path.join(GOLDENS, 'cn_inpaint9_euler_s100'), '--models', FIXTURES, '--out', path.join(scratch.root, 'cn-out'), '--threads', '1', '--check'], (l) => lines.push(l));
    expect(code, lines.join('\n')).toBe(0);
  });

  it('an ONNX export cannot take a ControlNet: the error says what can', async () => {
    const { testStore } = await import('../sdxl/helpers.js');
    await expect(replayGoldenCase(path.join(GOLDENS, 'cn_inpaint9_euler_s100'), { store: testStore(), options: { controlnet: CN } })).rejects.toThrow(/ONNX export without ControlNet inputs.*\.safetensors checkpoint or a diffusers folder/);
  });
});
