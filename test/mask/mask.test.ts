import { describe, expect, it } from 'vitest';
import { squaredDistanceTo, threshold } from '../../server/image/distance.js';
import { featherMask, growMask, invertMask, maskBounds, maskStats, prepareMask, resizeMask, thresholdMask } from '../../server/image/mask.js';
import type { Mask } from '../../server/image/types.js';
import { rectMask } from '../image/helpers.js';

function at(m: Mask, x: number, y: number): number {
  return m.data[y * m.width + x]!;
}

function rowWidth(m: Mask, y: number): number {
  let n = 0;
  for (let x = 0; x < m.width; x++) if (at(m, x, y) >= 0.5) n++;
  return n;
}

function count(m: Mask): number {
  let n = 0;
  for (const v of m.data) if (v >= 0.5) n++;
  return n;
}

/** The exact and the bounded transform equal a brute-force nearest-pixel search (within the bound). */
function expectBruteForce(w: number, h: number, on: boolean[], bound: number): void {
  const bits = Uint8Array.from(on, (b) => (b ? 1 : 0));
  const d2 = squaredDistanceTo(w, h, bits);
  // Bounded: exact within the bound around the set, FAR beyond the box.
  const bounded = squaredDistanceTo(w, h, bits, bound);
  for (let i = 0; i < w * h; i++) {
    let best = Infinity;
    for (let j = 0; j < w * h; j++) {
      if (!on[j]) continue;
      const dx = (i % w) - (j % w);
      const dy = Math.floor(i / w) - Math.floor(j / w);
      best = Math.min(best, dx * dx + dy * dy);
    }
    expect(d2[i]).toBe(best);
    if (best <= bound * bound) expect(bounded[i]).toBe(best);
  }
}

describe('distance transform', () => {
  it('matches brute force on a random pattern', () => {
    const w = 23;
    const h = 17;
    expectBruteForce(w, h, Array.from({ length: w * h }, (_, i) => (i * 7919) % 31 === 0), 2);
  });

  it('matches brute force where sets have interiors and holes (runs of inside pixels)', () => {
    const w = 41;
    const h = 29;
    const on = Array.from({ length: w * h }, (_, i) => {
      const x = i % w;
      const y = Math.floor(i / w);
      const disc = (x - 12) ** 2 + (y - 10) ** 2 <= 49 && !((x - 12) ** 2 + (y - 10) ** 2 <= 4);
      return disc || (x >= 25 && x < 38 && y >= 15 && y < 25 && x !== 30) || x === 0 || (i * 7919) % 97 === 0;
    });
    expectBruteForce(w, h, on, 3);
  });
});

describe('grow and shrink', () => {
  it('grows a single pixel into a disc of radius r', () => {
    const m = rectMask(21, 21, 10, 10, 1, 1);
    const g = growMask(m, 3);
    // Disc of radius 3 on the integer grid: 29 pixels.
    expect(count(g)).toBe(29);
    expect(at(g, 13, 10)).toBe(1);
    expect(at(g, 14, 10)).toBe(0);
    expect(at(g, 12, 12)).toBe(1); // distance sqrt(8) <= 3
    expect(at(g, 13, 12)).toBe(0); // distance sqrt(13) > 3
  });

  it('grows a square by N px on each side with rounded corners', () => {
    const m = rectMask(64, 64, 20, 20, 10, 10);
    const g = growMask(m, 5);
    expect(rowWidth(g, 25)).toBe(20);
    expect(maskBounds(g)).toEqual({ x: 15, y: 15, width: 20, height: 20 });
    expect(at(g, 15, 15)).toBe(0); // corner is round: distance sqrt(50) > 5
    expect(at(g, 16, 16)).toBe(0); // 4^2 + 4^2 = 32 > 25
    expect(at(g, 17, 17)).toBe(1); // 3^2 + 3^2 = 18 <= 25
  });

  it('shrinks a square by N px and does not shrink from the image border', () => {
    const m = rectMask(64, 64, 20, 20, 20, 20);
    const s = growMask(m, -4);
    expect(maskBounds(s)).toEqual({ x: 24, y: 24, width: 12, height: 12 });
    const edge = rectMask(32, 32, 0, 0, 10, 32);
    const s2 = growMask(edge, -3);
    expect(maskBounds(s2)).toEqual({ x: 0, y: 0, width: 7, height: 32 });
  });

  it('soft grow and shrink equal brute-force disc max / min', () => {
    const w = 31;
    const h = 23;
    const data = Float32Array.from({ length: w * h }, (_, i) => ((i * 7919) % 97 < 9 ? ((i * 31) % 10) / 10 + 0.05 : 0));
    const m: Mask = { width: w, height: h, data };
    for (const r of [2, 4, -2, -3]) {
      const out = growMask(m, r);
      const rr = Math.abs(r);
      let wrong = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let best = r > 0 ? 0 : 1;
          for (let dy = -rr; dy <= rr; dy++) {
            for (let dx = -rr; dx <= rr; dx++) {
              const sx = x + dx;
              const sy = y + dy;
              if (dx * dx + dy * dy > rr * rr || sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
              const v = data[sy * w + sx]!;
              best = r > 0 ? Math.max(best, v) : Math.min(best, v);
            }
          }
          if (Math.abs(out.data[y * w + x]! - best) > 1e-6) wrong++;
        }
      }
      expect(wrong, `radius ${r}`).toBe(0);
    }
  });

  it('grows soft masks by grey dilation with the same disc', () => {
    const m = rectMask(21, 21, 10, 10, 1, 1);
    m.data[10 * 21 + 10] = 0.6;
    const g = growMask(m, 3);
    let n = 0;
    for (const v of g.data) if (v > 0) n++;
    expect(n).toBe(29);
    expect(at(g, 13, 10)).toBeCloseTo(0.6, 6);
    // Erosion is the dual: shrinking the inverse.
    const e = growMask(invertMask(g), -3);
    expect(at(e, 10, 10)).toBeCloseTo(0.4, 6);
  });
});

describe('feather', () => {
  it('keeps the mask and ramps smoothly to 0 within N px outside it', () => {
    const m = rectMask(64, 1, 20, 0, 10, 1);
    const f = featherMask(m, 4);
    for (let x = 20; x < 30; x++) expect(at(f, x, 0)).toBe(1);
    // Distances 1..4 px to the right of the edge: smoothstep(1 - d / 5).
    const expected = [1, 2, 3, 4].map((d) => {
      const t = 1 - d / 5;
      return t * t * (3 - 2 * t);
    });
    expect([30, 31, 32, 33].map((x) => at(f, x, 0))).toEqual(expected.map((v) => Math.fround(v)));
    expect(at(f, 34, 0)).toBe(0);
    expect(at(f, 15, 0)).toBe(0);
    expect(at(f, 16, 0)).toBeGreaterThan(0);
    // Monotone decreasing away from the mask.
    for (let x = 30; x < 34; x++) expect(at(f, x, 0)).toBeGreaterThan(at(f, x + 1, 0));
  });

  it('the band is exactly the pixels within N px of the mask', () => {
    const m = rectMask(50, 50, 10, 10, 8, 20);
    const f = featherMask(m, 6);
    const d2 = squaredDistanceTo(50, 50, threshold(m.data, 0.5));
    let wrong = 0;
    for (let i = 0; i < 2500; i++) if (d2[i]! > 36 ? f.data[i] !== 0 : !(f.data[i]! > 0)) wrong++;
    expect(wrong).toBe(0);
  });
});

describe('threshold, invert, resize, stats', () => {
  it('thresholds with >= and keeps soft values at 0', () => {
    const m: Mask = { width: 3, height: 1, data: Float32Array.from([127 / 255, 128 / 255, 1]) };
    expect([...thresholdMask(m, 0.5).data]).toEqual([0, 1, 1]);
    expect([...thresholdMask(m, 0).data]).toEqual([...m.data]);
    expect([...invertMask(thresholdMask(m, 0.5)).data]).toEqual([1, 0, 0]);
  });

  it('resizes with values kept in [0,1]', () => {
    const m = rectMask(8, 8, 0, 0, 4, 8);
    const up = resizeMask(m, 16, 16);
    expect(at(up, 0, 0)).toBe(1);
    expect(at(up, 15, 0)).toBe(0);
    const down = resizeMask(m, 2, 2);
    // Shrinking widens the triangle filter (as Pillow does): 8 -> 2 averages over 8 px.
    expect(at(down, 0, 0)).toBeCloseTo(6 / 7, 6);
    expect(at(down, 1, 0)).toBeCloseTo(1 / 7, 6);
    expect(at(down, 0, 1)).toBeCloseTo(6 / 7, 6);
  });

  it('reports empty and full masks', () => {
    expect(maskStats(rectMask(4, 4, 0, 0, 0, 0)).empty).toBe(true);
    expect(maskStats(rectMask(4, 4, 0, 0, 4, 4)).full).toBe(true);
    const half = maskStats(rectMask(4, 4, 0, 0, 2, 4));
    expect(half.empty || half.full).toBe(false);
    expect(half.mean).toBe(0.5);
  });

  it('prepareMask (fused binary path) equals threshold -> grow -> feather composed', () => {
    const w = 120;
    const h = 90;
    const data = Float32Array.from({ length: w * h }, (_, i) => {
      const x = i % w;
      const y = Math.floor(i / w);
      return Math.max(0, Math.min(1, 1.4 - Math.hypot(x - 50, y - 40) / 20)) * (x % 17 === 0 ? 0.3 : 1);
    });
    const m: Mask = { width: w, height: h, data };
    for (const opts of [
      { threshold: 0.5, grow: 6, feather: 5, invert: false },
      { threshold: 0.3, grow: -4, feather: 9, invert: false },
      { threshold: 0.5, grow: 3, feather: 0, invert: true },
    ]) {
      const fused = prepareMask(m, opts);
      const hard = growMask(thresholdMask(opts.invert ? invertMask(m) : m, opts.threshold), opts.grow);
      const soft = featherMask(hard, opts.feather);
      expect(fused.hard.data).toEqual(hard.data);
      expect(fused.soft.data).toEqual(soft.data);
    }
  });

  it('prepareMask: invert, threshold, grow, then feather', () => {
    const m = rectMask(40, 40, 10, 10, 10, 10);
    const { hard, soft } = prepareMask(m, { threshold: 0.5, grow: 2, feather: 3, invert: false });
    expect(maskBounds(hard)).toEqual({ x: 8, y: 8, width: 14, height: 14 });
    expect(maskBounds(soft)).toEqual({ x: 5, y: 5, width: 20, height: 20 });
    const inv = prepareMask(m, { threshold: 0.5, grow: 0, feather: 0, invert: true });
    expect(count(inv.hard)).toBe(1600 - 100);
  });
});
