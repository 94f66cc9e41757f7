// Telea's inpainting (A. Telea, "An Image Inpainting Technique Based on the Fast
// Marching Method", 2004): the hole is filled from its boundary inwards in order of
// distance (fast marching), each pixel from known pixels within `radius`, weighted by
// direction (along the normal of the level set), distance and level-set closeness, with
// the first-order term I(q) + grad I(q)·(p - q) so gradients continue into the hole.
// Two changes against streaks and overshoot: the gradient term uses only original
// pixels (not filled ones), and each result is kept within its neighbours' range.
import { squaredDistanceTo } from './distance.js';
import type { RgbImage } from './types.js';

const KNOWN = 0;
const BAND = 1;
const INSIDE = 2;
const BIG = 1e6;

/** Min-heap of pixel indices keyed by arrival time. */
class Heap {
  private keys = new Float64Array(1024);
  private vals = new Int32Array(1024);
  size = 0;

  push(key: number, val: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      this.keys = k;
      const v = new Int32Array(this.size * 2);
      v.set(this.vals);
      this.vals = v;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.keys[p]! <= key) break;
      this.keys[i] = this.keys[p]!;
      this.vals[i] = this.vals[p]!;
      i = p;
    }
    this.keys[i] = key;
    this.vals[i] = val;
  }

  pop(): number {
    const top = this.vals[0]!;
    const key = this.keys[--this.size]!;
    const val = this.vals[this.size]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && this.keys[c + 1]! < this.keys[c]!) c++;
      if (this.keys[c]! >= key) break;
      this.keys[i] = this.keys[c]!;
      this.vals[i] = this.vals[c]!;
      i = c;
    }
    this.keys[i] = key;
    this.vals[i] = val;
    return top;
  }
}

/**
 * Fills the pixels where `hole[i]` is 1 (the rest is copied). `radius` is the
 * neighbourhood the colour of each new pixel is taken from.
 */
export function inpaintTelea(image: RgbImage, hole: Uint8Array, radius = 5): RgbImage {
  const { width: W, height: H } = image;
  const n = W * H;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n * 3; i++) out[i] = image.data[i]!;
  const flag = new Uint8Array(n);
  const T = new Float32Array(n);
  // Outside the hole, T is minus the distance to it, so the level sets and their
  // gradient continue smoothly across the boundary (OpenCV runs a second march for this).
  // Only T within the neighbourhood radius of the hole is ever read.
  const d2 = squaredDistanceTo(W, H, hole, Math.max(1, Math.round(radius)) + 2);
  const heap = new Heap();
  let holes = 0;
  for (let i = 0; i < n; i++) {
    if (hole[i]) {
      flag[i] = INSIDE;
      T[i] = BIG;
      holes++;
    } else T[i] = -Math.sqrt(d2[i]!) + 1;
  }
  if (holes === 0 || holes === n) {
    return { width: W, height: H, data: holes === n ? image.data.slice().fill(0) : image.data.slice() };
  }
  for (let i = 0; i < n; i++) {
    if (flag[i] !== KNOWN) continue;
    const x = i % W;
    const y = (i - x) / W;
    if ((x > 0 && hole[i - 1]) || (x < W - 1 && hole[i + 1]) || (y > 0 && hole[i - W]) || (y < H - 1 && hole[i + W])) {
      flag[i] = BAND;
      T[i] = 0;
      heap.push(0, i);
    }
  }

  const solve = (a: number, b: number): number => {
    const ta = T[a]!;
    const tb = T[b]!;
    const fa = flag[a] !== INSIDE;
    const fb = flag[b] !== INSIDE;
    if (fa && fb) {
      const d = ta - tb;
      return Math.abs(d) >= 1 ? 1 + Math.min(ta, tb) : (ta + tb + Math.sqrt(2 - d * d)) * 0.5;
    }
    if (fa) return 1 + ta;
    if (fb) return 1 + tb;
    return 1 + Math.min(ta, tb);
  };

  const r = Math.max(1, Math.round(radius));
  const r2 = r * r;
  // Gradient of channel `ch` of buf (stride values per pixel) at pixel i from the
  // neighbours that are not INSIDE; written to g[0], g[1] (no allocation: hot loop).
  const g = new Float64Array(2);
  const gradOf = (buf: Float32Array, i: number, x: number, y: number, stride: number, ch: number): void => {
    let gx = 0;
    let gy = 0;
    const l = x > 0 && flag[i - 1] !== INSIDE;
    const rt = x < W - 1 && flag[i + 1] !== INSIDE;
    if (l && rt) gx = (buf[(i + 1) * stride + ch]! - buf[(i - 1) * stride + ch]!) * 0.5;
    else if (rt) gx = buf[(i + 1) * stride + ch]! - buf[i * stride + ch]!;
    else if (l) gx = buf[i * stride + ch]! - buf[(i - 1) * stride + ch]!;
    const u = y > 0 && flag[i - W] !== INSIDE;
    const d = y < H - 1 && flag[i + W] !== INSIDE;
    if (u && d) gy = (buf[(i + W) * stride + ch]! - buf[(i - W) * stride + ch]!) * 0.5;
    else if (d) gy = buf[(i + W) * stride + ch]! - buf[i * stride + ch]!;
    else if (u) gy = buf[i * stride + ch]! - buf[(i - W) * stride + ch]!;
    g[0] = gx;
    g[1] = gy;
  };

  const fill = (p: number): void => {
    const px = p % W;
    const py = (p - px) / W;
    gradOf(T, p, px, py, 1, 0);
    const tgx = g[0]!;
    const tgy = g[1]!;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    // Range of the neighbours' colours: the gradient term may extrapolate, but not
    // beyond what the neighbourhood holds (across a hard edge it would overshoot).
    let lo0 = 255, lo1 = 255, lo2 = 255, hi0 = 0, hi1 = 0, hi2 = 0;
    let wsum = 0;
    const y0 = Math.max(0, py - r);
    const y1 = Math.min(H - 1, py + r);
    const x0 = Math.max(0, px - r);
    const x1 = Math.min(W - 1, px + r);
    for (let qy = y0; qy <= y1; qy++) {
      for (let qx = x0; qx <= x1; qx++) {
        const q = qy * W + qx;
        if (flag[q] === INSIDE) continue;
        const rx = px - qx;
        const ry = py - qy;
        const rr = rx * rx + ry * ry;
        if (rr === 0 || rr > r2) continue;
        const len = Math.sqrt(rr);
        let dir = Math.abs(rx * tgx + ry * tgy) / len;
        if (dir < 1e-6) dir = 1e-6;
        const dst = 1 / rr;
        const lev = 1 / (1 + Math.abs(T[q]! - T[p]!));
        const w = dir * dst * lev;
        const q3 = q * 3;
        const v0 = out[q3]!;
        const v1 = out[q3 + 1]!;
        const v2 = out[q3 + 2]!;
        if (v0 < lo0) lo0 = v0;
        if (v0 > hi0) hi0 = v0;
        if (v1 < lo1) lo1 = v1;
        if (v1 > hi1) hi1 = v1;
        if (v2 < lo2) lo2 = v2;
        if (v2 > hi2) hi2 = v2;
        if (hole[q]) {
          // Gradients of already-filled pixels are estimates of estimates; feeding them
          // back makes the fill streak (the "star" artefact), so they add colour only.
          a0 += w * v0;
          a1 += w * v1;
          a2 += w * v2;
        } else {
          gradOf(out, q, qx, qy, 3, 0);
          a0 += w * (v0 + g[0]! * rx + g[1]! * ry);
          gradOf(out, q, qx, qy, 3, 1);
          a1 += w * (v1 + g[0]! * rx + g[1]! * ry);
          gradOf(out, q, qx, qy, 3, 2);
          a2 += w * (v2 + g[0]! * rx + g[1]! * ry);
        }
        wsum += w;
      }
    }
    if (wsum > 0) {
      out[p * 3] = Math.min(hi0, Math.max(lo0, a0 / wsum));
      out[p * 3 + 1] = Math.min(hi1, Math.max(lo1, a1 / wsum));
      out[p * 3 + 2] = Math.min(hi2, Math.max(lo2, a2 / wsum));
    }
  };

  while (heap.size > 0) {
    const p = heap.pop();
    if (flag[p] === KNOWN) continue;
    flag[p] = KNOWN;
    const px = p % W;
    const py = (p - px) / W;
    const neighbours = [px > 0 ? p - 1 : -1, px < W - 1 ? p + 1 : -1, py > 0 ? p - W : -1, py < H - 1 ? p + W : -1];
    for (const q of neighbours) {
      if (q < 0 || flag[q] !== INSIDE) continue;
      const qx = q % W;
      const qy = (q - qx) / W;
      const left = qx > 0 ? q - 1 : q;
      const right = qx < W - 1 ? q + 1 : q;
      const up = qy > 0 ? q - W : q;
      const down = qy < H - 1 ? q + W : q;
      const t = Math.min(solve(up, left), solve(down, left), solve(up, right), solve(down, right));
      T[q] = t;
      fill(q);
      flag[q] = BAND;
      heap.push(t, q);
    }
  }
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n * 3; i++) data[i] = Math.round(out[i]!);
  return { width: W, height: H, data };
}
