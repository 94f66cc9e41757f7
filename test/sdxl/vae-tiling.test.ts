import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { inferenceOptionsFromConfig } from '../../server/models/inference-options.js';
import {
  blendH,
  blendV,
  crop,
  decodeGeometry,
  decodeNeedsTiling,
  encodeGeometry,
  encodeNeedsTiling,
  tiledRun,
  tileStarts,
  type Planar,
  type TileGeometry,
} from '../../server/sdxl/vae-tiling.js';

const planar = (channels: number, height: number, width: number, f: (c: number, y: number, x: number) => number): Planar => {
  const data = new Float32Array(channels * height * width);
  for (let c = 0; c < channels; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[(c * height + y) * width + x] = f(c, y, x);
  return { data, channels, height, width };
};
const at = (p: Planar, c: number, y: number, x: number) => p.data[(c * p.height + y) * p.width + x]!;

/** Nearest ×2 upsampling: a stand-in decoder whose output is exactly 2× its input. */
const upsample2 = async (t: Planar): Promise<Planar> => planar(t.channels, t.height * 2, t.width * 2, (c, y, x) => at(t, c, y >> 1, x >> 1));

/**
 * diffusers' tiled_decode as written: every tile first, then blend_v/blend_h in place in
 * row-major order, crop to row_limit, torch.cat. The streaming tiledRun must equal it.
 */
async function diffusersReference(input: Planar, g: TileGeometry, run: (t: Planar) => Promise<Planar>): Promise<Planar> {
  const rows: Planar[][] = [];
  for (const i of tileStarts(input.height, g.stride)) {
    const row: Planar[] = [];
    for (const j of tileStarts(input.width, g.stride)) row.push(await run(crop(input, i, j, g.tile, g.tile)));
    rows.push(row);
  }
  const strips: Planar[][] = rows.map((row, i) =>
    row.map((tile, j) => {
      if (i > 0) blendV(rows[i - 1]![j]!, tile, g.blendExtent);
      if (j > 0) blendH(row[j - 1]!, tile, g.blendExtent);
      return crop(tile, 0, 0, g.rowLimit, g.rowLimit);
    }),
  );
  const height = strips.reduce((s, r) => s + r[0]!.height, 0);
  const width = strips[0]!.reduce((s, t) => s + t.width, 0);
  const out = planar(input.channels, height, width, () => 0);
  let top = 0;
  for (const r of strips) {
    let left = 0;
    for (const t of r) {
      for (let c = 0; c < t.channels; c++) for (let y = 0; y < t.height; y++) for (let x = 0; x < t.width; x++) out.data[(c * height + top + y) * width + left + x] = at(t, c, y, x);
      left += t.width;
    }
    top += r[0]!.height;
  }
  return out;
}

describe('VAE tile geometry (diffusers AutoencoderKL formulas)', () => {
  it('SDXL sizes: sample 1024, latent 128, overlap 0.25', () => {
    // tiled_decode: overlap_size = int(128 · 0.75), blend_extent = int(1024 · 0.25), row_limit = 1024 − 256.
    expect(decodeGeometry({ sample: 1024, latent: 128 })).toEqual({ tile: 128, stride: 96, blendExtent: 256, rowLimit: 768 });
    // tiled_encode: overlap_size = int(1024 · 0.75), blend_extent = int(128 · 0.25), row_limit = 128 − 32.
    expect(encodeGeometry({ sample: 1024, latent: 128 })).toEqual({ tile: 1024, stride: 768, blendExtent: 32, rowLimit: 96 });
    // int() truncates: sample 100 → latent int(100/8) = 12, overlap int(9.0), blend int(25.0) / int(3.0).
    expect(decodeGeometry({ sample: 100, latent: 12 })).toEqual({ tile: 12, stride: 9, blendExtent: 25, rowLimit: 75 });
    expect(encodeGeometry({ sample: 100, latent: 12 })).toEqual({ tile: 100, stride: 75, blendExtent: 3, rowLimit: 9 });
    expect(() => decodeGeometry({ sample: 8, latent: 1 })).toThrow(/too small for tiled decode/);
  });

  it('tile origins are range(0, size, stride): 2048² decodes as 3×3 tiles of 128, 128, 64 latent cells', () => {
    expect(tileStarts(256, 96)).toEqual([0, 96, 192]);
    expect(tileStarts(2048, 768)).toEqual([0, 768, 1536]);
    expect(tileStarts(130, 96)).toEqual([0, 96]);
  });

  it('tiles only above the threshold (diffusers: latent side > tile_latent_min_size, image side > tile_sample_min_size)', () => {
    const auto = { mode: 'auto' as const, sizes: { sample: 1024, latent: 128 } };
    expect(decodeNeedsTiling(auto, 128, 128)).toBe(false);
    expect(decodeNeedsTiling(auto, 128, 129)).toBe(true);
    expect(decodeNeedsTiling(auto, 256, 96)).toBe(true);
    expect(decodeNeedsTiling({ ...auto, mode: 'off' }, 256, 256)).toBe(false);
    expect(decodeNeedsTiling(undefined, 256, 256)).toBe(false);
    expect(encodeNeedsTiling(auto, 1024, 1024)).toBe(false);
    expect(encodeNeedsTiling(auto, 1056, 1024)).toBe(true);
  });

  it('blend_v: row y of b = a[−e + y] · (1 − y/e) + b[y] · y/e, extent clipped to both heights', () => {
    const a = planar(1, 4, 2, (_, y, x) => 10 + y + x);
    const b = planar(1, 4, 2, () => 0);
    blendV(a, b, 2);
    // y = 0: all of a's row 2; y = 1: half of a's row 3; rows 2–3 untouched.
    expect(Array.from(b.data)).toEqual([12, 13, 6.5, 7, 0, 0, 0, 0]);
    const short = planar(1, 1, 2, () => 4);
    blendV(short, b, 3);
    expect(Array.from(b.data.subarray(0, 2))).toEqual([4, 4]); // e = min(1, 4, 3) = 1: b[0] = a[0]
  });

  it('blend_h: column x of b = a[:, −e + x] · (1 − x/e) + b[:, x] · x/e', () => {
    const a = planar(2, 2, 4, (c, y, x) => 100 * c + 10 * y + x);
    const b = planar(2, 2, 4, () => 1);
    blendH(a, b, 4);
    // x = 0, 1, 2, 3: weights of a 1, 0.75, 0.5, 0.25 on a's columns 0..3.
    expect(Array.from(b.data.subarray(0, 4))).toEqual([0, 1, 1.5, 1.5]);
    expect(Array.from(b.data.subarray(12, 16))).toEqual([110, 0.75 * 111 + 0.25, 0.5 * 112 + 0.5, 0.25 * 113 + 0.75].map(Math.fround));
  });

  it('an identity "model" with row_limit = stride reassembles its input; a ×2 upsampler gives the ×2 image', async () => {
    const input = planar(3, 20, 13, (c, y, x) => Math.sin(c + 0.3 * y) + 0.1 * x);
    const g = decodeGeometry({ sample: 8, latent: 8 }); // tile 8, stride 6, blend 2, keep 6
    const stats = { tiles: 0 };
    const same = await tiledRun(input, g, async (t) => t, stats);
    expect([same.height, same.width, stats.tiles]).toEqual([20, 13, 4 * 3]);
    same.data.forEach((v, i) => expect(v).toBeCloseTo(input.data[i]!, 5));
    const up = await tiledRun(input, decodeGeometry({ sample: 16, latent: 8 }), upsample2);
    const whole = await upsample2(input);
    expect([up.height, up.width]).toEqual([40, 26]);
    up.data.forEach((v, i) => expect(v).toBeCloseTo(whole.data[i]!, 5));
  });

  it('streaming assembly equals diffusers\' decode-everything-then-blend order, tile for tile', async () => {
    // A "decoder" whose tiles disagree (output depends on the tile's own mean, like GroupNorm),
    // so every blend matters; odd sizes give short edge tiles.
    const tileDependent = async (t: Planar): Promise<Planar> => {
      const mean = t.data.reduce((s, v) => s + v, 0) / t.data.length;
      const up = await upsample2(t);
      return { ...up, data: up.data.map((v, i) => v * 1.5 - mean + 0.01 * (i % 7)) };
    };
    const input = planar(4, 23, 17, (c, y, x) => Math.cos(0.7 * c + 0.21 * y * x) + 0.05 * y);
    for (const g of [decodeGeometry({ sample: 16, latent: 8 }), decodeGeometry({ sample: 24, latent: 12 })]) {
      const ours = await tiledRun(input, g, tileDependent);
      const ref = await diffusersReference(input, g, tileDependent);
      expect([ours.height, ours.width]).toEqual([ref.height, ref.width]);
      expect(Array.from(ours.data)).toEqual(Array.from(ref.data));
    }
  });

  it('refuses a model whose tiles come back at inconsistent sizes', async () => {
    const input = planar(1, 12, 12, () => 0);
    let n = 0;
    const odd = async (t: Planar) => (n++ === 0 ? upsample2(t) : t);
    await expect(tiledRun(input, decodeGeometry({ sample: 16, latent: 8 }), odd)).rejects.toThrow(/VAE tile 8×6 gave 1×8×6, expected 1×16×12/);
  });
});

describe('MASKFLOW_VAE_TILING', () => {
  it('defaults to auto, accepts off, rejects anything else, and reaches the inference options', () => {
    expect(inferenceOptionsFromConfig(loadConfig({})).vaeTiling).toBe('auto');
    expect(inferenceOptionsFromConfig(loadConfig({ MASKFLOW_VAE_TILING: 'off' })).vaeTiling).toBe('off');
    expect(() => loadConfig({ MASKFLOW_VAE_TILING: 'on' })).toThrow(/MASKFLOW_VAE_TILING must be one of auto, off, got "on"/);
  });
});
