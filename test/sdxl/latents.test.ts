import { describe, expect, it } from 'vitest';
import { decodeLatent, emptyLatent, encodeImage, fullMask, sampleLatentDist } from '../../server/sdxl/latents.js';
import { TorchGenerator } from '../../server/sdxl/rng.js';
import { testStore } from './helpers.js';

const store = testStore();
const ref = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] };

describe('latent preparation', () => {
  it('snaps odd sizes down to the model multiple (Lanczos resize) and builds the inpainting extras', async () => {
    const img = { width: 100, height: 70, data: new Uint8Array(100 * 70 * 3).map((_, i) => (i * 13) & 255) };
    const lat = await encodeImage(store, ref, img, fullMask(100, 70));
    expect([lat.width, lat.height]).toEqual([96, 64]);
    expect(lat.image!.mean.length).toBe(4 * 8 * 12);
    expect(lat.mask!.length).toBe(8 * 12);
    expect(lat.mask!.every((v) => v === 1)).toBe(true);
    expect(lat.maskedImage!.std.every((v) => v > 0)).toBe(true);
    const explicit = await encodeImage(store, ref, img, undefined, { width: 64, height: 64 });
    expect([explicit.width, explicit.height, explicit.mask]).toEqual([64, 64, undefined]);
    expect(emptyLatent(1000, 1000, 32)).toMatchObject({ width: 992, height: 992, batch: 0 });
  });

  it('samples the posterior as mean + std·randn, scaled, or returns the scaled mean', () => {
    const dist = { mean: Float32Array.from([1, 2]), std: Float32Array.from([0.5, 0.25]) };
    expect(Array.from(sampleLatentDist(dist, 0.5, undefined, [2]))).toEqual([0.5, 1]);
    const eps = new TorchGenerator(3).randn([2]);
    const s = sampleLatentDist(dist, 0.5, new TorchGenerator(3), [2]);
    expect(s[0]).toBeCloseTo((1 + 0.5 * eps[0]!) * 0.5, 6);
    expect(s[1]).toBeCloseTo((2 + 0.25 * eps[1]!) * 0.5, 6);
    // Old Optimum exports sample inside the graph: no second draw.
    expect(Array.from(sampleLatentDist({ ...dist, sampledInGraph: true }, 1, new TorchGenerator(3), [2]))).toEqual([1, 2]);
  });

  it('decoding needs denoised samples', async () => {
    await expect(decodeLatent(store, ref, emptyLatent(64, 64))).rejects.toThrow(/no samples/);
    const dec = await decodeLatent(store, ref, { width: 64, height: 32, batch: 2, samples: new Float32Array(2 * 4 * 8 * 4) });
    expect(dec.images).toHaveLength(2);
    expect([dec.images[0]!.width, dec.images[0]!.height]).toEqual([64, 32]);
  });
});
