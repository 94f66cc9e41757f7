// Mask operations on Float32 planes in [0,1] (1 = repaint).
import { boundsOf, distanceField, threshold } from './distance.js';
import { forEachInField, growMask } from './morphology.js';
import { resamplePlane } from './resample.js';
import type { Mask } from './types.js';

export { growMask };

export function emptyMask(width: number, height: number): Mask {
  return { width, height, data: new Float32Array(width * height) };
}

export function invertMask(mask: Mask): Mask {
  const out = new Float32Array(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = 1 - mask.data[i]!;
  return { width: mask.width, height: mask.height, data: out };
}

/** value >= threshold -> 1 else 0 (diffusers binarises at 0.5 the same way). threshold <= 0 keeps the soft mask. */
export function thresholdMask(mask: Mask, threshold: number): Mask {
  if (threshold <= 0) return { width: mask.width, height: mask.height, data: mask.data.slice() };
  const out = new Float32Array(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = mask.data[i]! >= threshold ? 1 : 0;
  return { width: mask.width, height: mask.height, data: out };
}

/**
 * Feathers outwards: the mask keeps its values, and pixels outside it get a smooth
 * ramp (smoothstep of distance) from 1 next to the mask core (values >= 0.5) down to 0
 * beyond `radius` pixels. Everything the mask marked for repaint stays fully repainted,
 * and no pixel farther than `radius` from the mask is touched: the "band" is exactly
 * the pixels within `radius` px of the mask.
 */
export function featherMask(mask: Mask, radius: number): Mask {
  const { width, height, data } = mask;
  const out = data.slice();
  if (radius <= 0) return { width, height, data: out };
  const field = distanceField(width, height, threshold(data, 0.5), radius);
  const span = radius + 1;
  const max2 = radius * radius;
  forEachInField(field, width, (i, dd) => {
    if (dd === 0 || dd > max2) return;
    const t = 1 - Math.sqrt(dd) / span;
    const ramp = t * t * (3 - 2 * t);
    if (ramp > out[i]!) out[i] = ramp;
  });
  return { width, height, data: out };
}

/** Resizes a mask (triangle filter, widened when shrinking), clamped to [0,1]. */
export function resizeMask(mask: Mask, width: number, height: number): Mask {
  if (mask.width === width && mask.height === height) return { width, height, data: mask.data.slice() };
  const data = resamplePlane(mask.data, mask.width, mask.height, width, height, 'triangle');
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, data[i]!));
  return { width, height, data };
}

export interface MaskStats {
  /** Fraction of pixels with value > 0. */
  touched: number;
  /** Mean value (the repainted share of the image). */
  mean: number;
  empty: boolean;
  full: boolean;
}

/** Values below half an 8-bit step count as 0, above 1 minus half a step as 1. */
const EPS = 0.5 / 255;

export function maskStats(mask: Mask): MaskStats {
  const d = mask.data;
  let touched = 0;
  let sum = 0;
  let full = true;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v > EPS) touched++;
    if (v < 1 - EPS) full = false;
    sum += v;
  }
  const n = Math.max(1, d.length);
  return { touched: touched / n, mean: sum / n, empty: touched === 0, full };
}

/** Bounding box of pixels with value > cutoff, or undefined for an empty mask. */
export function maskBounds(mask: Mask, cutoff = EPS): { x: number; y: number; width: number; height: number } | undefined {
  const r = boundsOf(mask.data, mask.width, mask.height, cutoff);
  return r && { x: r.x0, y: r.y0, width: r.x1 - r.x0, height: r.y1 - r.y0 };
}

/** Copies a rectangle of a mask. */
export function cropMask(mask: Mask, x: number, y: number, width: number, height: number): Mask {
  const out = new Float32Array(width * height);
  for (let r = 0; r < height; r++) out.set(mask.data.subarray((y + r) * mask.width + x, (y + r) * mask.width + x + width), r * width);
  return { width, height, data: out };
}

export interface PrepareMaskOptions {
  threshold: number;
  grow: number;
  feather: number;
  invert: boolean;
}

/**
 * invert -> threshold -> grow/shrink gives the hard mask the model sees; feathering
 * that gives the soft mask used to composite. With a threshold (the usual case) this
 * runs a fused binary path: one thresholding pass and two bounded distance transforms.
 */
export function prepareMask(mask: Mask, opts: PrepareMaskOptions): { hard: Mask; soft: Mask } {
  if (opts.threshold <= 0) {
    const m = opts.invert ? invertMask(mask) : mask;
    const hard = growMask(thresholdMask(m, 0), opts.grow);
    return { hard, soft: featherMask(hard, opts.feather) };
  }
  const { width, height, data: src } = mask;
  const n = src.length;
  const t = opts.threshold;
  const on = new Uint8Array(n);
  if (opts.invert) for (let i = 0; i < n; i++) on[i] = Math.fround(1 - src[i]!) >= t ? 1 : 0;
  else for (let i = 0; i < n; i++) on[i] = src[i]! >= t ? 1 : 0;

  let hardBits = on;
  // Filled here when growing (the common case): saves a full-image conversion pass below.
  let hard: Float32Array | undefined;
  const r = Math.round(Math.abs(opts.grow));
  if (r > 0) {
    const r2 = r * r;
    if (opts.grow > 0) {
      const { region, data } = distanceField(width, height, on, r);
      hardBits = new Uint8Array(n);
      hard = new Float32Array(n);
      const rw = region.x1 - region.x0;
      for (let y = region.y0; y < region.y1; y++) {
        const f = (y - region.y0) * rw - region.x0;
        const o = y * width;
        for (let x = region.x0; x < region.x1; x++) {
          if (data[f + x]! <= r2) {
            hardBits[o + x] = 1;
            hard[o + x] = 1;
          }
        }
      }
    } else {
      const off = new Uint8Array(n);
      for (let i = 0; i < n; i++) off[i] = 1 - on[i]!;
      const { region, data } = distanceField(width, height, off, r, on);
      hardBits = on.slice();
      const rw = region.x1 - region.x0;
      for (let y = region.y0; y < region.y1; y++) {
        const f = (y - region.y0) * rw - region.x0;
        const o = y * width;
        for (let x = region.x0; x < region.x1; x++) if (data[f + x]! <= r2) hardBits[o + x] = 0;
      }
    }
  }
  if (!hard) {
    hard = new Float32Array(n);
    for (let i = 0; i < n; i++) hard[i] = hardBits[i]!;
  }
  const soft = hard.slice();
  const radius = opts.feather;
  if (radius > 0) {
    const { region, data } = distanceField(width, height, hardBits, radius);
    const span = radius + 1;
    const max2 = radius * radius;
    const rw = region.x1 - region.x0;
    for (let y = region.y0; y < region.y1; y++) {
      const f = (y - region.y0) * rw - region.x0;
      const o = y * width;
      for (let x = region.x0; x < region.x1; x++) {
        const dd = data[f + x]!;
        if (dd === 0 || dd > max2) continue;
        const u = 1 - Math.sqrt(dd) / span;
        soft[o + x] = u * u * (3 - 2 * u);
      }
    }
  }
  return { hard: { width, height, data: hard }, soft: { width, height, data: soft } };
}
