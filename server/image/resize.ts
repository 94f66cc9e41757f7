// Resizing RGB images with sharp (lanczos3 unless another kernel is asked for).
import sharp from 'sharp';
import type { RgbImage } from './types.js';

export type ResizeMode = 'fit' | 'fill' | 'exact';
export type ResizeKernel = 'lanczos3' | 'nearest' | 'linear' | 'cubic';

function toImage(data: Buffer, width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * fit: keep the aspect ratio, largest size within width x height;
 * fill: keep the aspect ratio, cover width x height and crop the centre;
 * exact: stretch to width x height.
 */
export async function resizeImage(image: RgbImage, width: number, height: number, mode: ResizeMode = 'exact', kernel: ResizeKernel = 'lanczos3'): Promise<RgbImage> {
  if (image.width === width && image.height === height) return { width, height, data: image.data.slice() };
  const fit = mode === 'fit' ? 'inside' : mode === 'fill' ? 'cover' : 'fill';
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit, kernel, position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return toImage(data, info.width, info.height);
}

/** Copies a rectangle of an image. */
export function cropImage(image: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++) {
    const s = ((y + r) * image.width + x) * 3;
    out.set(image.data.subarray(s, s + width * 3), r * width * 3);
  }
  return { width, height, data: out };
}
