// What happens to a flagged image: replaced by black (what diffusers' checker does), or
// blurred beyond recognition (antialiased downscale to a few pixels, then smooth upscale).
import type { RgbImage } from '../image/types.js';
import { pilResize } from './pil-resize.js';

export type SafetyAction = 'black' | 'blur';

/** Short side of the blur's intermediate image: 8 px leaves colour blobs, no shapes. */
export const BLUR_SHORT_SIDE = 8;

export function blackImage(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: new Uint8Array(img.data.length) };
}

export function obscureBlur(img: RgbImage): RgbImage {
  const short = Math.min(img.width, img.height);
  const k = Math.min(1, BLUR_SHORT_SIDE / short);
  const w = Math.max(1, Math.round(img.width * k));
  const h = Math.max(1, Math.round(img.height * k));
  const small = pilResize(img, w, h, 'bilinear');
  return pilResize(small, img.width, img.height, 'bilinear');
}

export function applySafetyAction(img: RgbImage, action: SafetyAction): RgbImage {
  return action === 'black' ? blackImage(img) : obscureBlur(img);
}
