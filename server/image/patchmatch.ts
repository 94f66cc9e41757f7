// Exemplar-based inpainting in the manner of Wexler, Shechtman & Irani (2007) with
// PatchMatch (Barnes et al. 2009) as the nearest-neighbour search: coarse to fine, each
// level alternates (1) finding for every patch touching the hole the most similar
// patch lying wholly in the known area and (2) re-colouring hole pixels by a
// similarity-weighted vote of the patches that cover them. Unlike diffusion fills
// (blur, telea) it copies texture, so a hole in grass gets grass.
import { fillPullPush } from './pull-push.js';
import { mulberry32 } from './random.js';
import type { RgbImage } from './types.js';

export interface PatchMatchOptions {
  seed: number;
  /** Patch radius (patch side = 2r+1). */
  patchRadius?: number;
  /**
   * Awaited between iterations: lets the caller yield to the event loop (so a cancel
   * message can arrive), check cancellation and report progress (done, total).
   */
  checkpoint?: (done: number, total: number) => void | Promise<void>;
}

interface Level {
  w: number;
  h: number;
  img: Float32Array; // RGB
  hole: Uint8Array;
}

function downsample(l: Level): Level {
  const w = Math.ceil(l.w / 2);
  const h = Math.ceil(l.h / 2);
  const img = new Float32Array(w * h * 3);
  const hole = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let n = 0;
      let anyHole = 0;
      const acc = [0, 0, 0];
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const sx = Math.min(l.w - 1, 2 * x + dx);
          const sy = Math.min(l.h - 1, 2 * y + dy);
          const j = sy * l.w + sx;
          if (l.hole[j]) {
            anyHole = 1;
            continue;
          }
          n++;
          for (let c = 0; c < 3; c++) acc[c]! += l.img[j * 3 + c]!;
        }
      }
      const i = y * w + x;
      hole[i] = anyHole;
      if (n > 0) for (let c = 0; c < 3; c++) img[i * 3 + c] = acc[c]! / n;
    }
  }
  return { w, h, img, hole };
}

/** Sum of a box query on an integral image of the hole. */
function integral(hole: Uint8Array, w: number, h: number): Int32Array {
  const s = new Int32Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += hole[y * w + x]!;
      s[(y + 1) * (w + 1) + x + 1] = s[y * (w + 1) + x + 1]! + row;
    }
  }
  return s;
}

function boxSum(s: Int32Array, w: number, h: number, x0: number, y0: number, x1: number, y1: number): number {
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  x1 = Math.min(w - 1, x1);
  y1 = Math.min(h - 1, y1);
  const W = w + 1;
  return s[(y1 + 1) * W + x1 + 1]! - s[y0 * W + x1 + 1]! - s[(y1 + 1) * W + x0]! + s[y0 * W + x0]!;
}

class LevelSolver {
  readonly valid: Uint8Array; // patch centre whose whole patch is known and inside
  readonly validList: Int32Array;
  readonly targets: Int32Array; // pixels whose patch touches the hole
  readonly nnf: Int32Array; // per pixel: source centre index (targets only)
  readonly cost: Float64Array;
  cur: Float32Array; // current estimate (known pixels = image)

  constructor(
    readonly l: Level,
    readonly r: number,
    readonly rand: () => number,
  ) {
    const { w, h, hole } = l;
    const s = integral(hole, w, h);
    this.valid = new Uint8Array(w * h);
    const valids: number[] = [];
    const targets: number[] = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = x >= r && y >= r && x < w - r && y < h - r;
        const holes = boxSum(s, w, h, x - r, y - r, x + r, y + r);
        if (inside && holes === 0) {
          this.valid[y * w + x] = 1;
          valids.push(y * w + x);
        }
        if (holes > 0) targets.push(y * w + x);
      }
    }
    this.validList = Int32Array.from(valids);
    this.targets = Int32Array.from(targets);
    this.nnf = new Int32Array(w * h).fill(-1);
    this.cost = new Float64Array(w * h);
    this.cur = l.img.slice();
  }

  randomValid(): number {
    return this.validList[Math.floor(this.rand() * this.validList.length)]!;
  }

  /** SSD between the patch at target t (current estimate) and source s; stops above `limit`. */
  dist(t: number, s: number, limit: number): number {
    const { w, h } = this.l;
    const r = this.r;
    const tx = t % w;
    const ty = (t - tx) / w;
    const img = this.l.img;
    const cur = this.cur;
    // Clip the patch to the image once (the source patch always lies inside).
    const y0 = Math.max(-r, -ty);
    const y1 = Math.min(r, h - 1 - ty);
    const x0 = Math.max(-r, -tx);
    const x1 = Math.min(r, w - 1 - tx);
    let d = 0;
    for (let dy = y0; dy <= y1; dy++) {
      let a = ((ty + dy) * w + tx + x0) * 3;
      let b = (s + dy * w + x0) * 3;
      for (let dx = x0; dx <= x1; dx++, a += 3, b += 3) {
        const e0 = cur[a]! - img[b]!;
        const e1 = cur[a + 1]! - img[b + 1]!;
        const e2 = cur[a + 2]! - img[b + 2]!;
        d += e0 * e0 + e1 * e1 + e2 * e2;
      }
      if (d >= limit) return d;
    }
    return d;
  }

  try(t: number, s: number): void {
    if (s < 0 || s >= this.valid.length || !this.valid[s] || s === this.nnf[t]) return;
    const d = this.dist(t, s, this.cost[t]!);
    if (d < this.cost[t]!) {
      this.cost[t] = d;
      this.nnf[t] = s;
    }
  }

  initNnf(seedFrom?: { nnf: Int32Array; w: number; h: number }): void {
    const { w } = this.l;
    for (const t of this.targets) {
      let s = -1;
      if (seedFrom) {
        const x = t % w;
        const y = (t - x) / w;
        const cx = Math.min(seedFrom.w - 1, x >> 1);
        const cy = Math.min(seedFrom.h - 1, y >> 1);
        const cs = seedFrom.nnf[cy * seedFrom.w + cx]!;
        if (cs >= 0) {
          const sx = (cs % seedFrom.w) * 2 + (x & 1);
          const sy = Math.floor(cs / seedFrom.w) * 2 + (y & 1);
          const cand = sy * w + sx;
          if (sx < w && sy < this.l.h && this.valid[cand]) s = cand;
        }
      }
      if (s < 0) s = this.randomValid();
      this.nnf[t] = s;
      this.cost[t] = this.dist(t, s, Infinity);
    }
  }

  patchMatchPass(iter: number): void {
    const { w, h } = this.l;
    const forward = iter % 2 === 0;
    const step = forward ? 1 : -1;
    const n = this.targets.length;
    const maxR = Math.max(w, h);
    for (let k = 0; k < n; k++) {
      const t = this.targets[forward ? k : n - 1 - k]!;
      this.cost[t] = this.dist(t, this.nnf[t]!, Infinity);
      const x = t % w;
      const y = (t - x) / w;
      // Propagation: the neighbour's match shifted by one.
      const nx = x - step;
      if (nx >= 0 && nx < w && this.nnf[t - step]! >= 0) {
        const s = this.nnf[t - step]! + step;
        if ((s % w) === ((this.nnf[t - step]! % w) + step)) this.try(t, s);
      }
      const ny = y - step;
      if (ny >= 0 && ny < h && this.nnf[t - step * w]! >= 0) this.try(t, this.nnf[t - step * w]! + step * w);
      // Random search around the current best, shrinking radius.
      const best = this.nnf[t]!;
      const bx = best % w;
      const by = (best - bx) / w;
      for (let rad = maxR; rad >= 1; rad >>= 1) {
        const sx = bx + Math.round((this.rand() * 2 - 1) * rad);
        const sy = by + Math.round((this.rand() * 2 - 1) * rad);
        if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
        this.try(t, sy * w + sx);
      }
    }
  }

  /** Re-colours hole pixels from the patches covering them. */
  vote(): void {
    const { w, h, hole, img } = this.l;
    const r = this.r;
    const area = (2 * r + 1) * (2 * r + 1) * 3;
    let mean = 0;
    for (const t of this.targets) mean += this.cost[t]! / area;
    const sigma = Math.max(1, mean / Math.max(1, this.targets.length));
    const acc = new Float64Array(w * h * 3);
    const wsum = new Float64Array(w * h);
    for (const t of this.targets) {
      const s = this.nnf[t]!;
      const wt = Math.exp(-this.cost[t]! / area / (2 * sigma));
      const tx = t % w;
      const ty = (t - tx) / w;
      for (let dy = -r; dy <= r; dy++) {
        const y = ty + dy;
        if (y < 0 || y >= h) continue;
        for (let dx = -r; dx <= r; dx++) {
          const x = tx + dx;
          if (x < 0 || x >= w) continue;
          const p = y * w + x;
          if (!hole[p]) continue;
          const q = (s + dy * w + dx) * 3;
          acc[p * 3]! += wt * img[q]!;
          acc[p * 3 + 1]! += wt * img[q + 1]!;
          acc[p * 3 + 2]! += wt * img[q + 2]!;
          wsum[p]! += wt;
        }
      }
    }
    for (let p = 0; p < w * h; p++) {
      if (!hole[p] || wsum[p]! <= 0) continue;
      for (let c = 0; c < 3; c++) this.cur[p * 3 + c] = acc[p * 3 + c]! / wsum[p]!;
    }
  }
}

/** Fills the pixels where hole[i] = 1 with texture copied from the rest of the image. */
export async function inpaintPatchMatch(image: RgbImage, hole: Uint8Array, opts: PatchMatchOptions): Promise<RgbImage> {
  const { width, height } = image;
  const r = opts.patchRadius ?? 3;
  const rand = mulberry32(opts.seed);
  let holes = 0;
  for (let i = 0; i < hole.length; i++) holes += hole[i]!;
  if (holes === 0) return { width, height, data: image.data.slice() };

  const base: Level = { w: width, h: height, img: Float32Array.from(image.data), hole };
  const pyramid: Level[] = [base];
  while (true) {
    const top = pyramid[pyramid.length - 1]!;
    if (Math.min(top.w, top.h) <= 8 * (2 * r + 1) || Math.max(top.w, top.h) <= 64) break;
    const next = downsample(top);
    let known = 0;
    for (let i = 0; i < next.hole.length; i++) known += next.hole[i] ? 0 : 1;
    if (known < next.hole.length * 0.25) break; // too little left to copy from
    pyramid.push(next);
  }

  let prev: LevelSolver | undefined;
  const itersAt = (li: number) => (li === 0 ? 3 : 5);
  const total = pyramid.reduce((n, _l, li) => n + itersAt(li), 0);
  let done = 0;
  for (let li = pyramid.length - 1; li >= 0; li--) {
    const level = pyramid[li]!;
    const solver = new LevelSolver(level, r, rand);
    if (solver.validList.length === 0) {
      // Nothing wholly known to copy from at this scale: diffuse instead.
      const rgb: RgbImage = { width: level.w, height: level.h, data: Uint8Array.from(level.img, (v) => Math.round(v)) };
      const filled = fillPullPush(rgb, level.hole);
      solver.cur = Float32Array.from(filled.data);
      prev = undefined;
      if (li === 0) return filled;
      continue;
    }
    if (!prev) {
      const rgb: RgbImage = { width: level.w, height: level.h, data: Uint8Array.from(level.img, (v) => Math.round(v)) };
      solver.cur = Float32Array.from(fillPullPush(rgb, level.hole).data);
      solver.initNnf();
    } else {
      solver.initNnf({ nnf: prev.nnf, w: prev.l.w, h: prev.l.h });
      solver.vote();
    }
    const iters = itersAt(li);
    for (let it = 0; it < iters; it++) {
      solver.patchMatchPass(it);
      solver.vote();
      await opts.checkpoint?.(++done, total);
    }
    prev = solver;
  }
  const cur = prev!.cur;
  const data = image.data.slice();
  for (let i = 0; i < hole.length; i++) {
    if (!hole[i]) continue;
    for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(Math.min(255, Math.max(0, cur[i * 3 + c]!)));
  }
  return { width, height, data };
}
