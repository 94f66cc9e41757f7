// Seed semantics of the sampler: diffusers' draw order with one torch generator for
// num_images 1, and image i of a batch = seed + i alone.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeMask } from '../../server/image/io.js';
import type { ExecutionContext } from '../../server/engine/context.js';
import { denoise, type DenoiseOptions } from '../../server/sdxl/denoise.js';
import { runDenoiseNode } from '../../server/sdxl/denoise-node.js';
import { encodeImage } from '../../server/sdxl/latents.js';
import { TorchGenerator } from '../../server/sdxl/rng.js';
import { createScheduler } from '../../server/sdxl/schedulers/index.js';
import { encodeConditioning } from '../../server/sdxl/text-encoding.js';
import { GOLDENS, maxAbsDiff, readF32 } from './golden-io.js';
import { testStore } from './helpers.js';

const store = testStore();
const limits = { maxPixels: 1 << 24 };

async function setup(caseName: string) {
  const dir = path.join(GOLDENS, caseName);
  const p = JSON.parse(readFileSync(path.join(dir, 'params.json'), 'utf8'));
  const ref = { model: p.model, loras: [], embeddings: [] };
  const { image } = await decodeImage(new Uint8Array(readFileSync(path.join(dir, 'image.png'))), limits);
  const mask = await decodeMask(new Uint8Array(readFileSync(path.join(dir, 'mask.png'))), limits);
  const latent = await encodeImage(store, ref, image, mask);
  const cond = await encodeConditioning(store, ref, { prompt: p.prompt, negative: p.negative_prompt });
  return { dir, p, ref, latent, cond };
}

function fakeCtx(progress: number[] = []): ExecutionContext {
  return {
    runId: 'r',
    nodeId: 'sampler',
    nodeType: 'sampling/denoise',
    workflow: { version: 1, nodes: {} },
    signal: new AbortController().signal,
    services: {} as ExecutionContext['services'],
    files: {} as ExecutionContext['files'],
    progress: (done) => progress.push(done),
    log: () => {},
    throwIfCancelled: () => {},
  };
}

describe('sampler seeds', () => {
  it('the denoise node with seed = the golden noise seed and the VAE mean reproduces diffusers', async () => {
    const { dir, p, ref, latent, cond } = await setup('inpaint9_dpmpp2mk_s060');
    const progress: number[] = [];
    const out = await runDenoiseNode(
      store,
      { unet: ref, positive: cond.positive, negative: cond.negative, latent },
      {
        seed: p.noise_seed_for_reference_only,
        steps: p.num_inference_steps,
        guidance: p.guidance_scale,
        strength: p.strength,
        scheduler: 'dpmpp_2m_karras',
        guidance_rescale: 0,
        num_images: 1,
        vae_sample: false,
        preview: false,
      },
      fakeCtx(progress),
    );
    expect(maxAbsDiff(out.samples!, readF32(path.join(dir, 'final_latents.bin')))).toBeLessThanOrEqual(2e-3);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
  }, 60_000);

  it('draws VAE sample of the image -> noise -> VAE sample of the masked image from one generator', async () => {
    const { ref, latent, cond } = await setup('inpaint9_dpmpp2mk_s060');
    const sf = latent.scalingFactor!;
    const opts: DenoiseOptions = {
      steps: 10, guidance: 7, strength: 0.6, numImages: 1, seed: 1234, scheduler: 'euler', vaeMode: 'sample',
      generator: (s) => new TorchGenerator(s),
    };
    const res = await denoise(store, ref, cond.positive, cond.negative, latent, opts);
    const g = new TorchGenerator(1234);
    const shape = [1, 4, 16, 16];
    const e1 = g.randn(shape);
    const noise = g.randn(shape);
    const e3 = g.randn(shape);
    const img = latent.image!.mean.map((m, i) => Math.fround(Math.fround(m + Math.fround(latent.image!.std[i]! * e1[i]!)) * sf));
    const sched = createScheduler('euler', store.info(ref).schedulerConfig as never);
    sched.setTimesteps(10);
    sched.setBeginIndex(4);
    const expected = sched.addNoise(Float32Array.from(img), noise, sched.timesteps[4]!);
    expect(maxAbsDiff(res.initialLatents, expected)).toBeLessThanOrEqual(1e-6);
    expect(res.timesteps).toHaveLength(6);
    // The third draw is the masked image's VAE sample: replaying the same run with a generator
    // whose third draw differs must change the result, while the first two stay as above.
    const masked = latent.maskedImage!.mean.map((m, i) => Math.fround(Math.fround(m + Math.fround(latent.maskedImage!.std[i]! * e3[i]!)) * sf));
    expect(masked.some((v, i) => v !== Math.fround(latent.maskedImage!.mean[i]! * sf))).toBe(true);
    const swapped = await denoise(store, ref, cond.positive, cond.negative, latent, {
      ...opts,
      generator: (s) => {
        const g = new TorchGenerator(s);
        let n = 0;
        return { randn: (shape: number[]) => (++n === 3 ? new TorchGenerator(999).randn(shape) : g.randn(shape)) };
      },
    });
    expect(maxAbsDiff(swapped.initialLatents, res.initialLatents)).toBe(0);
    expect(maxAbsDiff(swapped.latent.samples!, res.latent.samples!)).toBeGreaterThan(1e-4);
  }, 60_000);

  it('image i of a batch equals a single image with seed + i', async () => {
    const { ref, latent, cond } = await setup('inpaint9_euler_cfg1');
    const base: DenoiseOptions = {
      steps: 4, guidance: 3, strength: 0.9, numImages: 3, seed: 40, scheduler: 'euler_ancestral', vaeMode: 'sample',
      generator: (s) => new TorchGenerator(s),
    };
    const batch = await denoise(store, ref, cond.positive, cond.negative, latent, base);
    const one = await denoise(store, ref, cond.positive, cond.negative, latent, { ...base, numImages: 1, seed: 42 });
    const per = 4 * 16 * 16;
    expect(maxAbsDiff(batch.latent.samples!.subarray(2 * per), one.latent.samples!)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(batch.latent.samples!.subarray(0, per), one.latent.samples!)).toBeGreaterThan(1e-2);
  }, 60_000);
});
