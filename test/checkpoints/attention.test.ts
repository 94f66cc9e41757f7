// Every attention implementation of the compiled graphs (layers.ts AttentionOptions) is exact
// up to float rounding: the UNet and VAE component goldens and an inpainting pipeline golden
// pass with each. `chunked` uses slices of 8 query rows here, so the tiny fixtures' sequences
// are cut into many slices (and the trailing ones are empty).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-node';
import { ModelStore } from '../../server/models/model-store.js';
import { floatInput, inputMeta, numericInput, outputF32 } from '../../server/models/ort-io.js';
import type { Component } from '../../server/models/catalog.js';
import type { AttentionOptions } from '../../server/checkpoints/layers.js';
import { replayGoldenCase } from '../../server/sdxl/golden-replay.js';
import { noResiduals } from '../../server/sdxl/unet.js';
import { FIXTURES, GOLDENS, maxAbsDiff, readF32, readTensor, type TensorSpec } from '../sdxl/golden-io.js';
import { SINGLE, scratchModels } from './helpers.js';

const scratch = scratchModels();
afterAll(() => scratch.cleanup());
const COMP = path.join(FIXTURES, 'components');

const storeWith = (attention: AttentionOptions) =>
  new ModelStore({
    modelsDir: scratch.modelsDir,
    compiledDir: scratch.compiledDir,
    inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu', attention },
    sessionCacheBytes: 2 ** 31,
  });

const variants: AttentionOptions[] = [
  { impl: 'mha', chunkTokens: 1024 },
  { impl: 'chunked', chunkTokens: 8 },
  { impl: 'full', chunkTokens: 1024 },
];

describe.each(variants)('attention $impl', (attention) => {
  const store = storeWith(attention);
  const ref = { model: SINGLE, loras: [], embeddings: [] };

  it.each(['unet_inpaint_b2_16x16_t500_ts1', 'vae_decoder_128x128', 'vae_encoder_128x128'])('component golden %s (1e-4)', async (c) => {
    const m = JSON.parse(readFileSync(path.join(COMP, c, 'meta.json'), 'utf8')) as { model: string; inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> };
    const s = await store.getSession(ref, m.model.split('/')[2] as Component);
    const feeds: Record<string, Tensor> = noResiduals(s);
    for (const [name, spec] of Object.entries(m.inputs)) {
      const data = readTensor(path.join(COMP, c), spec);
      const im = inputMeta(s, name);
      feeds[name] = data instanceof Float32Array ? floatInput(im, data, spec.shape) : numericInput(im, Array.from(data as ArrayLike<number | bigint>, Number), spec.shape);
    }
    const out = await s.run(feeds);
    for (const [name, spec] of Object.entries(m.outputs))
      expect(maxAbsDiff(outputF32(out[name], name), readTensor(path.join(COMP, c), spec) as Float32Array), `${c} ${name}`).toBeLessThanOrEqual(1e-4);
  });

  it('pipeline golden inpaint9_euler_s100 (final latents 2e-3, image 1e-4)', async () => {
    const dir = path.join(GOLDENS, 'inpaint9_euler_s100');
    const r = await replayGoldenCase(dir, { store, model: SINGLE });
    expect(maxAbsDiff(r.finalLatents, readF32(path.join(dir, 'final_latents.bin')))).toBeLessThanOrEqual(2e-3);
    expect(maxAbsDiff(r.imageOut, readF32(path.join(dir, 'image_out.bin')))).toBeLessThanOrEqual(1e-4);
  });

  it('compiles the attention it was asked for', () => {
    const info = store.info(ref);
    const unet = readFileSync(path.join(info.dir, 'unet/model.onnx')).toString('latin1');
    const vae = readFileSync(path.join(info.dir, 'vae_decoder/model.onnx')).toString('latin1');
    for (const graph of [unet, vae]) {
      expect(graph.includes('MultiHeadAttention')).toBe(attention.impl === 'mha');
      expect(graph.includes('Softmax')).toBe(attention.impl !== 'mha');
    }
    expect(store.catalog.compile(SINGLE).manifest.attention).toEqual(attention);
  });
});
