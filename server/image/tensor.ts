// Conversions between images/masks and model tensors (float32 NCHW), the way diffusers
// prepares them: RGB u8 / 255 * 2 - 1, and decoded images (x / 2 + 0.5) clamped, * 255, rounded.
import type { ImageBatch, Mask, RgbImage } from './types.js';

export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/**
 * RGB u8 HWC -> [-1,1] float32 NCHW ([N,3,H,W]); all images must share one size.
 * `out` (N*3*H*W floats) may be passed to reuse a buffer: allocating a fresh 12 MB
 * array costs more than the conversion itself.
 */
export function imageToTensor(images: ImageBatch | RgbImage, out?: Float32Array): Tensor {
  const batch = Array.isArray(images) ? images : [images];
  if (batch.length === 0) throw new Error('imageToTensor: empty batch');
  const { width, height } = batch[0]!;
  const plane = width * height;
  const size = batch.length * 3 * plane;
  if (out && out.length !== size) throw new Error(`imageToTensor: out has ${out.length} floats, needs ${size}`);
  const data = out ?? new Float32Array(size);
  // Float32 at every step, as torch computes (x / 255) * 2 - 1: bit-identical tensors.
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) * 2) - 1);
  for (let b = 0; b < batch.length; b++) {
    const img = batch[b]!;
    if (img.width !== width || img.height !== height) throw new Error('imageToTensor: images in a batch differ in size');
    const src = img.data;
    const r = b * 3 * plane;
    const g = r + plane;
    const bl = g + plane;
    for (let i = 0, s = 0; i < plane; i++, s += 3) {
      data[r + i] = lut[src[s]!]!;
      data[g + i] = lut[src[s + 1]!]!;
      data[bl + i] = lut[src[s + 2]!]!;
    }
  }
  return { data, dims: [batch.length, 3, height, width] };
}

/**
 * Mask -> [1,1,H,W] float32. With `threshold` the mask is binarised (>= threshold -> 1),
 * as diffusers does at 0.5 before the UNet sees it.
 */
export function maskToTensor(mask: Mask, threshold?: number): Tensor {
  const data = new Float32Array(mask.data.length);
  if (threshold === undefined) data.set(mask.data);
  else for (let i = 0; i < data.length; i++) data[i] = mask.data[i]! >= threshold ? 1 : 0;
  return { data, dims: [1, 1, mask.height, mask.width] };
}

/** [N,3,H,W] float32 in [-1,1] -> RGB u8 images: round(clamp(x / 2 + 0.5, 0, 1) * 255). */
export function tensorToImages(data: Float32Array, dims: readonly number[]): ImageBatch {
  const [n, c, height, width] = dims as [number, number, number, number];
  if (c !== 3) throw new Error(`tensorToImages: expected 3 channels, got ${c}`);
  const plane = width * height;
  const out: ImageBatch = [];
  for (let b = 0; b < n; b++) {
    const rgb = new Uint8Array(plane * 3);
    const base = b * 3 * plane;
    for (let ch = 0; ch < 3; ch++) {
      const off = base + ch * plane;
      for (let i = 0; i < plane; i++) {
        const v = data[off + i]! / 2 + 0.5;
        rgb[i * 3 + ch] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
      }
    }
    out.push({ width, height, data: rgb });
  }
  return out;
}
