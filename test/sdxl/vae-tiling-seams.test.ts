// Tiled vs untiled VAE on the tiny SDXL fixture. Its sample_size (1024) puts the threshold at a
// 128-cell latent, so the tests pass smaller tile sizes through the same vaeDecode / vaeEncode
// path (SAMPLE px / SAMPLE/8 cells); a SIDE-cell latent then decodes as 4×4 tiles.
import type { InferenceSession } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeLatent, vaeTilingFor } from '../../server/sdxl/latents.js';
import { vaeDecode, vaeEncode } from '../../server/sdxl/vae.js';
import { decodeGeometry, encodeGeometry, tiledRun, type Planar, type VaeTiling } from '../../server/sdxl/vae-tiling.js';
import { testStore } from './helpers.js';

const store = testStore();
const ref = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] };
const SAMPLE = 128;
const SIZES = { sample: SAMPLE, latent: SAMPLE / 8 };
const AUTO: VaeTiling = { mode: 'auto', sizes: SIZES };
const OFF: VaeTiling = { mode: 'off', sizes: SIZES };
const SIDE = (SAMPLE / 8) * 2.5; // latent cells: 4 tiles per side (stride 0.75 tile)
const PX = 8 * SIDE;
const SF = 0.13025;

let decoder: InferenceSession;
let encoder: InferenceSession;
beforeAll(async () => {
  decoder = await store.getSession(ref, 'vae_decoder');
  encoder = await store.getSession(ref, 'vae_encoder');
});

/** A smooth latent (scaled, as the sampler hands it over), so seams would stand out against it. */
function smoothLatent(side: number): Float32Array {
  const z = new Float32Array(4 * side * side);
  for (let c = 0; c < 4; c++)
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) z[(c * side + y) * side + x] = SF * (Math.sin(0.31 * x + c) * Math.cos(0.23 * y - c) + 0.3 * Math.sin(0.11 * (x + y)));
  return z;
}

/** Mean |p[k] − p[k−1]| across columns (axis 'x') or rows (axis 'y') for every k ≥ 1. */
function stepProfile(p: Planar, axis: 'x' | 'y'): number[] {
  const n = axis === 'x' ? p.width : p.height;
  const other = axis === 'x' ? p.height : p.width;
  const out: number[] = [0];
  for (let k = 1; k < n; k++) {
    let s = 0;
    for (let c = 0; c < p.channels; c++)
      for (let o = 0; o < other; o++) {
        const i = axis === 'x' ? (c * p.height + o) * p.width + k : (c * p.height + k) * p.width + o;
        const prev = axis === 'x' ? i - 1 : i - p.width;
        s += Math.abs(p.data[i]! - p.data[prev]!);
      }
    out.push(s / (p.channels * other));
  }
  return out;
}

/**
 * Worst step at the tile boundaries ÷ mean step at the other positions of the same phase
 * (multiples of `period`): the decoder's upsampling leaves a periodic step pattern of its
 * own, so boundaries are compared with their like.
 */
function seamRatio(p: Planar, seams: number[], period: number): number {
  let worst = 0;
  for (const axis of ['x', 'y'] as const) {
    const prof = stepProfile(p, axis);
    const like = prof.filter((_, k) => k > 0 && k % period === 0 && !seams.includes(k));
    const base = like.reduce((a, b) => a + b, 0) / like.length;
    for (const s of seams) worst = Math.max(worst, prof[s]! / base);
  }
  return worst;
}

const meanAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
const meanAbs = (a: Float32Array) => a.reduce((s, v) => s + Math.abs(v), 0) / a.length;

describe('tiled VAE decode on a real VAE', () => {
  it('blends tiles without visible seams and stays close to the untiled decode', async () => {
    const z = smoothLatent(SIDE);
    const stats = { tiles: 0 };
    const tiled = await vaeDecode(decoder, z, 1, SIDE, SIDE, SF, AUTO, stats);
    const whole = await vaeDecode(decoder, z, 1, SIDE, SIDE, SF, OFF);
    expect([tiled.height, tiled.width, stats.tiles]).toEqual([PX, PX, 16]);
    const seams = [1, 2, 3].map((k) => k * decodeGeometry(SIZES).rowLimit);
    // Control: the same tiles pasted without blend_v/blend_h (blend extent 0).
    const unblended = await tiledRun({ data: z, channels: 4, height: SIDE, width: SIDE }, { ...decodeGeometry(SIZES), blendExtent: 0 }, async (t) => {
      const d = await vaeDecode(decoder, t.data, 1, t.height, t.width, SF);
      return { data: d.data, channels: 3, height: d.height, width: d.width };
    });
    const img = (d: Float32Array): Planar => ({ data: d, channels: 3, height: PX, width: PX });
    const r = { tiled: seamRatio(img(tiled.data), seams, 16), untiled: seamRatio(img(whole.data), seams, 16), unblended: seamRatio(unblended, seams, 16) };
    const mad = meanAbsDiff(tiled.data, whole.data);
    console.log(`decode ${PX}² in 16 tiles: mean |tiled − untiled| ${mad.toFixed(5)} (untiled mean ${meanAbs(whole.data).toFixed(3)}); seam step ÷ like step: tiled ${r.tiled.toFixed(2)}, untiled ${r.untiled.toFixed(2)}, unblended ${r.unblended.toFixed(2)}`);
    // Measured: 0.019 (random weights: per-tile GroupNorm statistics differ more than a trained VAE's).
    expect(mad).toBeLessThan(0.03);
    // Measured: tiled 1.32, untiled 1.41, unblended 3.34.
    expect(r.tiled).toBeLessThan(2);
    // The metric sees seams when they are there: without blending the boundary steps stand out.
    expect(r.unblended).toBeGreaterThan(2.5);
  });

  it('at or below the threshold the decode is the untiled one, bit for bit', async () => {
    const z = smoothLatent(8);
    const a = await vaeDecode(decoder, z, 1, 8, 8, SF, AUTO);
    const b = await vaeDecode(decoder, z, 1, 8, 8, SF);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });

  it('decodeLatent takes the model\'s tile sizes and the configured mode', async () => {
    expect(vaeTilingFor(store, store.info(ref))).toEqual({ mode: 'auto', sizes: { sample: 1024, latent: 128 } });
    const z = smoothLatent(SIDE);
    const viaLatent = await decodeLatent(store, ref, { width: 8 * SIDE, height: 8 * SIDE, batch: 1, samples: z });
    const direct = await vaeDecode(decoder, z, 1, SIDE, SIDE, SF, OFF);
    expect(Array.from(viaLatent.tensor)).toEqual(Array.from(direct.data)); // 20 cells < 128: untiled
  });
});

describe('tiled VAE encode on a real VAE', () => {
  /** A smooth image in [−1, 1], [1,3,PX,PX]. */
  const image = (() => {
    const s = PX;
    const x = new Float32Array(3 * s * s);
    for (let c = 0; c < 3; c++) for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) x[(c * s + i) * s + j] = 0.8 * Math.sin(0.05 * j + 0.9 * c) * Math.cos(0.037 * i);
    return x;
  })();

  it('blends the moments: tiled mean and std stay close to the untiled posterior', async () => {
    const stats = { tiles: 0 };
    const tiled = await vaeEncode(encoder, image, PX, PX, AUTO, stats);
    const whole = await vaeEncode(encoder, image, PX, PX, OFF);
    expect(stats.tiles).toBe(16);
    expect(tiled.mean.length).toBe(4 * SIDE * SIDE);
    const madMean = meanAbsDiff(tiled.mean, whole.mean) / meanAbs(whole.mean);
    const madStd = meanAbsDiff(tiled.std, whole.std) / meanAbs(whole.std);
    // Control: the same tiles without blending, compared the same way.
    const unblended = await tiledRun({ data: image, channels: 3, height: PX, width: PX }, { ...encodeGeometry(SIZES), blendExtent: 0 }, async (t) => {
      const d = await vaeEncode(encoder, t.data, t.height, t.width);
      return { data: d.mean, channels: 4, height: t.height / 8, width: t.width / 8 };
    });
    const madUnblended = meanAbsDiff(unblended.data, whole.mean) / meanAbs(whole.mean);
    const lat = (d: Float32Array): Planar => ({ data: d, channels: 4, height: SIDE, width: SIDE });
    const seams = [1, 2, 3].map((k) => k * encodeGeometry(SIZES).rowLimit);
    const r = { tiled: seamRatio(lat(tiled.mean), seams, 1), untiled: seamRatio(lat(whole.mean), seams, 1), unblended: seamRatio(unblended, seams, 1) };
    console.log(`encode ${PX}² in 16 tiles: relative mean |tiled − untiled| of mean ${madMean.toFixed(4)} (unblended ${madUnblended.toFixed(4)}), of std ${madStd.toFixed(4)}; seam step ÷ like step: tiled ${r.tiled.toFixed(2)}, untiled ${r.untiled.toFixed(2)}, unblended ${r.unblended.toFixed(2)}`);
    // Measured: mean 0.224 (unblended 0.338), std 0.037; seams tiled 1.19, untiled 1.04, unblended 2.19.
    // The tiny random VAE reaches 8×8 cells at its deepest level on a tile, so GroupNorm moves the mean.
    expect(madMean).toBeLessThan(0.3);
    expect(madMean).toBeLessThan(0.75 * madUnblended);
    expect(madStd).toBeLessThan(0.06);
    expect(r.tiled).toBeLessThan(1.6);
    expect(r.unblended).toBeGreaterThan(1.8);
    expect(tiled.sampledInGraph).toBeUndefined();
  });

  it('old exports (latent_sample drawn in the graph): blends the samples and keeps sampledInGraph', async () => {
    // An Optimum <= 1.22 encoder, emulated over the fixture: it returns the posterior mean as `latent_sample`.
    const oldExport = {
      inputNames: encoder.inputNames,
      inputMetadata: encoder.inputMetadata,
      outputNames: ['latent_sample'],
      run: async (feeds: InferenceSession.FeedsType) => {
        const out = await encoder.run(feeds);
        const p = out.latent_parameters!;
        const [n, c2, h, w] = p.dims.map(Number);
        const ort = (await import('onnxruntime-node')).default;
        return { latent_sample: new ort.Tensor('float32', (p.data as Float32Array).slice(0, (c2! / 2) * h! * w!), [n!, c2! / 2, h!, w!]) };
      },
    } as unknown as InferenceSession;
    const fromSamples = await vaeEncode(oldExport, image, PX, PX, AUTO);
    const fromMoments = await vaeEncode(encoder, image, PX, PX, AUTO);
    expect(fromSamples.sampledInGraph).toBe(true);
    expect(Array.from(fromSamples.std).every((v) => v === 0)).toBe(true);
    expect(Array.from(fromSamples.mean)).toEqual(Array.from(fromMoments.mean));
  });
});
