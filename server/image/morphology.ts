// Grow and shrink masks by a disc of radius r. Binary masks use the exact distance
// transform (cost independent of r); soft masks use grey-level dilation with a disc,
// built from horizontal running maxima (van Herk / Gil-Werman), one per chord width.
// Outside the image counts as "unchanged": a mask touching the border does not
// shrink away from it.
import { boundsOf, distanceField, threshold, type DistanceField } from './distance.js';
import type { Mask } from './types.js';

export function isBinary(mask: Mask): boolean {
  const d = mask.data;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0 && d[i] !== 1) return false;
  return true;
}

/** Calls fn(imageIndex, squaredDistance) for every pixel of the field's region. */
export function forEachInField(field: DistanceField, width: number, fn: (i: number, d2: number) => void): void {
  const { region, data } = field;
  const rw = region.x1 - region.x0;
  for (let y = region.y0; y < region.y1; y++) {
    const src = (y - region.y0) * rw - region.x0;
    const dst = y * width;
    for (let x = region.x0; x < region.x1; x++) fn(dst + x, data[src + x]!);
  }
}

/** Pixels within Euclidean distance r of a set pixel become set (binary input). */
function growBinary(mask: Mask, r: number): Mask {
  const { width, height, data } = mask;
  const field = distanceField(width, height, threshold(data, 0.5), r);
  const out = new Float32Array(data.length);
  const r2 = r * r;
  forEachInField(field, width, (i, d2) => {
    if (d2 <= r2) out[i] = 1;
  });
  return { width, height, data: out };
}

/** Pixels within distance r of an unset pixel become unset (binary input). */
function shrinkBinary(mask: Mask, r: number): Mask {
  const { width, height, data } = mask;
  const on = threshold(data, 0.5);
  const off = new Uint8Array(on.length);
  for (let i = 0; i < on.length; i++) off[i] = 1 - on[i]!;
  const field = distanceField(width, height, off, r, on);
  const out = Float32Array.from(on);
  const r2 = r * r;
  forEachInField(field, width, (i, d2) => {
    if (d2 <= r2) out[i] = 0;
  });
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

/** Grey-level grow/shrink, computed only on the box around the non-zero pixels plus r. */
function growGrey(mask: Mask, r: number, radius: number): Mask {
  const { width, height, data } = mask;
  const out = data.slice();
  const b = boundsOf(data, width, height);
  if (!b) return { width, height, data: out };
  const x0 = Math.max(0, b.x0 - radius);
  const y0 = Math.max(0, b.y0 - radius);
  const w = Math.min(width, b.x1 + radius) - x0;
  const h = Math.min(height, b.y1 + radius) - y0;
  const sub = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = data[(y0 + y) * width + x0 + x]!;
      sub[y * w + x] = r > 0 ? v : 1 - v;
    }
  }
  const grown = dilateGrey(sub, w, h, radius);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = grown[y * w + x]!;
      out[(y0 + y) * width + x0 + x] = r > 0 ? v : 1 - v;
    }
  }
  return { width, height, data: out };
}

/** Grows (r > 0) or shrinks (r < 0) a mask by |r| pixels with a round structuring element. */
export function growMask(mask: Mask, r: number): Mask {
  const radius = Math.round(Math.abs(r));
  if (radius === 0) return { width: mask.width, height: mask.height, data: mask.data.slice() };
  if (isBinary(mask)) return r > 0 ? growBinary(mask, radius) : shrinkBinary(mask, radius);
  return growGrey(mask, r, radius);
}
