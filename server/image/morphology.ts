// Grow and shrink masks by a disc of radius r. Binary masks use the exact distance
// transform (cost independent of r); soft masks use grey-level dilation with a disc,
// built from horizontal running maxima (van Herk / Gil-Werman), one per chord width.
// Outside the image counts as "unchanged": a mask touching the border does not
// shrink away from it.
import { squaredDistanceTo } from './distance.js';
import type { Mask } from './types.js';

export function isBinary(mask: Mask): boolean {
  const d = mask.data;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0 && d[i] !== 1) return false;
  return true;
}

/** Pixels within Euclidean distance r of a set pixel become set (binary input). */
function growBinary(mask: Mask, r: number): Mask {
  const { width, height, data } = mask;
  const d2 = squaredDistanceTo(width, height, (i) => data[i]! >= 0.5);
  const out = new Float32Array(data.length);
  const r2 = r * r;
  for (let i = 0; i < out.length; i++) out[i] = d2[i]! <= r2 ? 1 : 0;
  return { width, height, data: out };
}

/** Pixels within distance r of an unset pixel become unset (binary input). */
function shrinkBinary(mask: Mask, r: number): Mask {
  const { width, height, data } = mask;
  const d2 = squaredDistanceTo(width, height, (i) => data[i]! < 0.5);
  const out = new Float32Array(data.length);
  const r2 = r * r;
  for (let i = 0; i < out.length; i++) out[i] = d2[i]! > r2 ? 1 : 0;
  return { width, height, data: out };
}

/** Running max over [x-k, x+k] of each row (outside the row ignored). */
function rowMax(src: Float32Array, width: number, height: number, k: number, out: Float32Array): void {
  if (k === 0) {
    out.set(src);
    return;
  }
  const win = 2 * k + 1;
  const len = width + 2 * k;
  const g = new Float32Array(len);
  const h = new Float32Array(len);
  const padded = new Float32Array(len);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    padded.fill(-Infinity);
    padded.set(src.subarray(row, row + width), k);
    for (let i = 0; i < len; i++) g[i] = i % win === 0 ? padded[i]! : Math.max(g[i - 1]!, padded[i]!);
    for (let i = len - 1; i >= 0; i--) h[i] = i === len - 1 || (i + 1) % win === 0 ? padded[i]! : Math.max(h[i + 1]!, padded[i]!);
    // Window in padded coordinates for output x: [x, x + 2k].
    for (let x = 0; x < width; x++) out[row + x] = Math.max(h[x]!, g[x + 2 * k]!);
  }
}

/** Grey-level dilation with a disc of radius r. */
function dilateGrey(src: Float32Array, width: number, height: number, r: number): Float32Array {
  const out = new Float32Array(src.length);
  const byWidth = new Map<number, number[]>();
  for (let dy = -r; dy <= r; dy++) {
    const k = Math.floor(Math.sqrt(r * r - dy * dy));
    const list = byWidth.get(k) ?? [];
    list.push(dy);
    byWidth.set(k, list);
  }
  const tmp = new Float32Array(src.length);
  for (const [k, dys] of byWidth) {
    rowMax(src, width, height, k, tmp);
    for (const dy of dys) {
      for (let y = 0; y < height; y++) {
        const sy = y + dy;
        if (sy < 0 || sy >= height) continue;
        const o = y * width;
        const s = sy * width;
        for (let x = 0; x < width; x++) {
          const v = tmp[s + x]!;
          if (v > out[o + x]!) out[o + x] = v;
        }
      }
    }
  }
  return out;
}

/** Grows (r > 0) or shrinks (r < 0) a mask by |r| pixels with a round structuring element. */
export function growMask(mask: Mask, r: number): Mask {
  const radius = Math.round(Math.abs(r));
  if (radius === 0) return { width: mask.width, height: mask.height, data: mask.data.slice() };
  if (isBinary(mask)) return r > 0 ? growBinary(mask, radius) : shrinkBinary(mask, radius);
  const { width, height, data } = mask;
  if (r > 0) return { width, height, data: dilateGrey(data, width, height, radius) };
  const inv = new Float32Array(data.length);
  for (let i = 0; i < inv.length; i++) inv[i] = 1 - data[i]!;
  const grown = dilateGrey(inv, width, height, radius);
  for (let i = 0; i < grown.length; i++) grown[i] = 1 - grown[i]!;
  return { width, height, data: grown };
}
