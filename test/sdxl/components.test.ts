// Component goldens: every ONNX model called through the session pool and the I/O helpers
// (declared input dtypes, not hard-coded ones) and through the UNet / VAE wrappers.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-node';
import { SessionPool } from '../../server/models/sessions.js';
import { inputMeta, numericInput, floatInput, outputF32 } from '../../server/models/ort-io.js';
import { UnetRunner } from '../../server/sdxl/unet.js';
import { vaeDecode, vaeEncode } from '../../server/sdxl/vae.js';
import { FIXTURES, maxAbsDiff, readTensor, type TensorSpec } from './golden-io.js';

const COMP = path.join(FIXTURES, 'components');
const pool = new SessionPool({ ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' }, 2 ** 31);

interface Meta {
  model: string;
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
}

// ControlNet components (a diffusers folder, compiled by maskflow) are checked in test/checkpoints.
const cases = readdirSync(COMP).filter((c) => !c.startsWith('controlnet_')).sort();
const meta = (c: string) => JSON.parse(readFileSync(path.join(COMP, c, 'meta.json'), 'utf8')) as Meta;
const session = (m: Meta) => pool.get(m.model, async () => ({ path: path.join(FIXTURES, m.model) }), 0);

describe('component goldens through the session pool (1e-4)', () => {
  it.each(cases)('%s', async (c) => {
    const m = meta(c);
    const s = await session(m);
    const feeds: Record<string, Tensor> = {};
    for (const [name, spec] of Object.entries(m.inputs)) {
      const data = readTensor(path.join(COMP, c), spec);
      const im = inputMeta(s, name);
      feeds[name] =
        data instanceof Float32Array ? floatInput(im, data, spec.shape) : numericInput(im, Array.from(data as ArrayLike<number | bigint>, Number), spec.shape);
    }
    const out = await s.run(feeds);
    for (const [name, spec] of Object.entries(m.outputs)) {
      const want = readTensor(path.join(COMP, c), spec) as Float32Array;
      expect(out[name]!.dims).toEqual(spec.shape);
      expect(maxAbsDiff(outputF32(out[name], name), want), `${c} ${name}`).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe('UNet and VAE wrappers against component goldens (1e-4)', () => {
  it.each(cases.filter((c) => c.startsWith('unet_')))('UnetRunner %s', async (c) => {
    const m = meta(c);
    const dir = path.join(COMP, c);
    const r = (n: string) => readTensor(dir, m.inputs[n]!) as Float32Array;
    const ts = readTensor(dir, m.inputs.timestep!) as BigInt64Array;
    const [b, ch, h, w] = m.inputs.sample!.shape as [number, number, number, number];
    // The wrapper feeds one timestep value; the goldens with two values use equal ones only when b = ts.
    if (new Set(Array.from(ts, Number)).size !== 1) return;
    const runner = new UnetRunner(await session(m), {
      batch: b,
      encoderHiddenStates: r('encoder_hidden_states'),
      seqLen: m.inputs.encoder_hidden_states!.shape[1]!,
      dim: m.inputs.encoder_hidden_states!.shape[2]!,
      textEmbeds: r('text_embeds'),
      pooledDim: m.inputs.text_embeds!.shape[1]!,
      timeIds: r('time_ids'),
      timeIdWidth: m.inputs.time_ids!.shape[1]!,
    });
    const out = await runner.run(r('sample'), ch, h, w, Number(ts[0]));
    expect(maxAbsDiff(out, readTensor(dir, m.outputs.out_sample!) as Float32Array)).toBeLessThanOrEqual(1e-4);
  });

  it.each(cases.filter((c) => c.startsWith('vae_encoder')))('vaeEncode %s', async (c) => {
    const m = meta(c);
    const dir = path.join(COMP, c);
    const [, , H, W] = m.inputs.sample!.shape as number[];
    const dist = await vaeEncode(await session(m), readTensor(dir, m.inputs.sample!) as Float32Array, H!, W!);
    const params = readTensor(dir, m.outputs.latent_parameters!) as Float32Array;
    const half = params.length / 2;
    expect(maxAbsDiff(dist.mean, params.subarray(0, half))).toBeLessThanOrEqual(1e-4);
    const std = Array.from(params.subarray(half), (lv) => Math.exp(0.5 * Math.min(20, Math.max(-30, lv))));
    expect(maxAbsDiff(dist.std, std)).toBeLessThanOrEqual(1e-4);
  });

  it.each(cases.filter((c) => c.startsWith('vae_decoder')))('vaeDecode %s', async (c) => {
    const m = meta(c);
    const dir = path.join(COMP, c);
    const [, , h, w] = m.inputs.latent_sample!.shape as number[];
    const z = readTensor(dir, m.inputs.latent_sample!) as Float32Array;
    // vaeDecode divides by the scaling factor: feed z * sf so the decoder sees z.
    const sf = 0.5;
    const scaled = Float32Array.from(z, (v) => v * sf);
    const out = await vaeDecode(await session(m), scaled, 1, h!, w!, sf);
    const raw = readTensor(dir, m.outputs.sample!) as Float32Array;
    const want = Array.from(raw, (v) => Math.min(1, Math.max(0, v / 2 + 0.5)));
    expect(maxAbsDiff(out.data, want)).toBeLessThanOrEqual(1e-4);
  });
});
