// Masked-content pre-fill: what the masked area holds before a model (or nothing)
// repaints it. "original" keeps it, "blur" pulls colours in from the surroundings,
// "telea" and "patchmatch" are classical inpainting, "noise" is seeded random colour.
import { inpaintPatchMatch } from './patchmatch.js';
import { fillPullPush } from './pull-push.js';
import { mulberry32 } from './random.js';
import { inpaintTelea } from './telea.js';
import type { Mask, RgbImage } from './types.js';

export { fillPullPush, mulberry32 };

export const FILL_METHODS = ['original', 'blur', 'telea', 'patchmatch', 'noise'] as const;
export type FillMethod = (typeof FILL_METHODS)[number];

export interface FillOptions {
  seed?: number;
  /** Telea neighbourhood radius (px). */
  radius?: number;
  /** Awaited between patchmatch iterations (yield, cancellation, progress). */
  checkpoint?: (done: number, total: number) => void | Promise<void>;
}

/** Pixels to fill: mask value above half an 8-bit step. */
export function holeFromMask(mask: Mask): Uint8Array {
  const hole = new Uint8Array(mask.data.length);
  for (let i = 0; i < hole.length; i++) hole[i] = mask.data[i]! > 0.5 / 255 ? 1 : 0;
  return hole;
}

/** Seeded uniform random colours in the hole. */
export function fillNoise(image: RgbImage, hole: Uint8Array, seed: number): RgbImage {
  const rand = mulberry32(seed);
  const out = image.data.slice();
  for (let i = 0; i < hole.length; i++) {
    if (!hole[i]) continue;
    out[i * 3] = Math.floor(rand() * 256);
    out[i * 3 + 1] = Math.floor(rand() * 256);
    out[i * 3 + 2] = Math.floor(rand() * 256);
  }
  return { width: image.width, height: image.height, data: out };
}

/** Fills the masked area (mask > 0) of an image by `method`; pixels outside are copied. */
export async function fillMasked(image: RgbImage, mask: Mask, method: FillMethod, opts: FillOptions = {}): Promise<RgbImage> {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new Error(`mask is ${mask.width}x${mask.height} but the image is ${image.width}x${image.height}`);
  }
  const hole = holeFromMask(mask);
  if (method !== 'original' && method !== 'noise' && hole.every((h) => h === 1)) {
    // Nothing to take colours from: mid grey, the neutral value a diffusion model expects.
    return { width: image.width, height: image.height, data: new Uint8Array(image.data.length).fill(128) };
  }
  switch (method) {
    case 'original':
      return { width: image.width, height: image.height, data: image.data.slice() };
    case 'blur':
      return fillPullPush(image, hole);
    case 'telea':
      return inpaintTelea(image, hole, opts.radius ?? 5);
    case 'patchmatch':
      return inpaintPatchMatch(image, hole, { seed: opts.seed ?? 0, checkpoint: opts.checkpoint });
    case 'noise':
      return fillNoise(image, hole, opts.seed ?? 0);
  }
}
