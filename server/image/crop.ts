// "Only masked" inpainting (diffusers' padding_mask_crop, A1111's "inpaint area: only
// masked"): crop a box around the mask plus padding, widened to the working aspect ratio,
// scale it to the model's working size, and paste the result back afterwards.
import { cropMask, maskBounds, resizeMask } from './mask.js';
import { cropImage, resizeImage } from './resize.js';
import type { CropRegion, Mask, RgbImage } from './types.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Extends [lo, hi) to `size` within [0, limit), shifting it when it runs past an edge. */
function extend(lo: number, hi: number, size: number, limit: number): [number, number] {
  if (size >= limit) return [0, limit];
  const diff = size - (hi - lo);
  let a = lo - Math.floor(diff / 2);
  let b = hi + (diff - Math.floor(diff / 2));
  if (b > limit) {
    a -= b - limit;
    b = limit;
  }
  if (a < 0) {
    b -= a;
    a = 0;
  }
  return [a, b];
}

/**
 * The box around the mask (values > 0) plus `padding` px, clamped to the image, then
 * grown along one axis to the aspect ratio targetW:targetH (when 0, no aspect change).
 * If the image is too small for that ratio the box takes the full side and the ratio is
 * approximated (the scaling to the working size then stretches slightly, and uncrop
 * undoes the same stretch). Undefined for an empty mask.
 */
export function cropRegionForMask(mask: Mask, padding: number, targetW: number, targetH: number): Box | undefined {
  const b = maskBounds(mask);
  if (!b) return undefined;
  const W = mask.width;
  const H = mask.height;
  let x1 = Math.max(0, b.x - padding);
  let y1 = Math.max(0, b.y - padding);
  let x2 = Math.min(W, b.x + b.width + padding);
  let y2 = Math.min(H, b.y + b.height + padding);
  if (targetW > 0 && targetH > 0) {
    const target = targetW / targetH;
    const cw = x2 - x1;
    const ch = y2 - y1;
    if (cw / ch > target) [y1, y2] = extend(y1, y2, Math.round(cw / target), H);
    else if (cw / ch < target) [x1, x2] = extend(x1, x2, Math.round(ch * target), W);
  }
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

export interface CropResult {
  image: RgbImage;
  mask: Mask;
  crop: CropRegion;
}

/** Crops image and mask to `box` and scales both to workW x workH (0 = keep the box size). */
export async function cropToBox(image: RgbImage, mask: Mask, box: Box, workW: number, workH: number): Promise<CropResult> {
  const w = workW > 0 ? workW : box.width;
  const h = workH > 0 ? workH : box.height;
  const croppedImage = cropImage(image, box.x, box.y, box.width, box.height);
  const croppedMask = cropMask(mask, box.x, box.y, box.width, box.height);
  return {
    image: await resizeImage(croppedImage, w, h, 'exact'),
    mask: resizeMask(croppedMask, w, h),
    crop: { ...box, originalWidth: image.width, originalHeight: image.height, workWidth: w, workHeight: h },
  };
}

/**
 * Puts a processed crop back into the original. With a mask, only pixels the mask
 * marks are changed (blended by its value); without, the whole box is replaced. The
 * mask may be in original coordinates (original size) or crop coordinates (any other
 * size, scaled to the box). Pixels outside the box, and where the mask is 0, stay exact.
 */
export async function uncrop(original: RgbImage, processed: RgbImage, crop: CropRegion, mask?: Mask): Promise<RgbImage> {
  if (original.width !== crop.originalWidth || original.height !== crop.originalHeight) {
    throw new Error(`crop was taken from a ${crop.originalWidth}x${crop.originalHeight} image, but the original is ${original.width}x${original.height}`);
  }
  const patch = await resizeImage(processed, crop.width, crop.height, 'exact');
  let m: Mask | undefined;
  if (mask) {
    m =
      mask.width === original.width && mask.height === original.height
        ? cropMask(mask, crop.x, crop.y, crop.width, crop.height)
        : resizeMask(mask, crop.width, crop.height);
  }
  const out = original.data.slice();
  for (let r = 0; r < crop.height; r++) {
    for (let c = 0; c < crop.width; c++) {
      const pi = r * crop.width + c;
      const a = m ? m.data[pi]! : 1;
      if (a <= 0) continue;
      const o = ((crop.y + r) * original.width + crop.x + c) * 3;
      const p = pi * 3;
      if (a >= 1) {
        out[o] = patch.data[p]!;
        out[o + 1] = patch.data[p + 1]!;
        out[o + 2] = patch.data[p + 2]!;
      } else {
        for (let k = 0; k < 3; k++) out[o + k] = Math.round(out[o + k]! * (1 - a) + patch.data[p + k]! * a);
      }
    }
  }
  return { width: original.width, height: original.height, data: out };
}
