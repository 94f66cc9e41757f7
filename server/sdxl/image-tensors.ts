// IMAGE/MASK <-> model tensors, with diffusers' VaeImageProcessor / mask processor rules.
import sharp from 'sharp';
import type { Mask, RgbImage } from '../image/types.js';

/** RGB uint8 HWC -> [1,3,H,W] float32 = u8/255*2-1 (float32 arithmetic, as numpy does it). */
export function imageToTensor(img: RgbImage): Float32Array {
  const { width: w, height: h, data } = img;
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      out[c * plane + p] = Math.fround(Math.fround(2 * Math.fround(data[p * 3 + c]! / 255)) - 1);
    }
  }
  return out;
}

/** [n,3,H,W] in [0,1] -> RGB uint8 images, round(x*255) like diffusers' numpy_to_pil. */
export function tensorToImages(data: Float32Array, n: number, height: number, width: number): RgbImage[] {
  const plane = width * height;
  const images: RgbImage[] = [];
  for (let i = 0; i < n; i++) {
    const out = new Uint8Array(plane * 3);
    const off = i * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round(Math.fround(data[off + c * plane + p]! * 255));
    }
    images.push({ width, height, data: out });
  }
  return images;
}

/** Binarised full-resolution mask [1,1,H,W]: >= 0.5 -> 1 else 0 (diffusers' mask processor). */
export function binarizeMask(mask: Mask): Float32Array {
  const out = new Float32Array(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = mask.data[i]! >= 0.5 ? 1 : 0;
  return out;
}

/**
 * F.interpolate(mask, size=(h, w)) with the default mode 'nearest': output (i, j) takes
 * source pixel (floor(i*H/h), floor(j*W/w)) — for 8x: the top-left pixel of each block.
 */
export function downsampleNearest(full: Float32Array, H: number, W: number, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  const sy = H / h;
  const sx = W / w;
  for (let i = 0; i < h; i++) {
    const y = Math.min(H - 1, Math.floor(i * sy));
    for (let j = 0; j < w; j++) out[i * w + j] = full[y * W + Math.min(W - 1, Math.floor(j * sx))]!;
  }
  return out;
}

/** init_image * (mask < 0.5): repainted pixels become 0 (mid grey in [-1,1]). */
export function maskedImage(image: Float32Array, binMask: Float32Array): Float32Array {
  const plane = binMask.length;
  const out = new Float32Array(image.length);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) out[c * plane + p] = binMask[p]! < 0.5 ? image[c * plane + p]! : 0;
  }
  return out;
}

/**
 * Sides the model accepts: a multiple of `multiple` (8 × 2^(UNet levels − 1); 32 for
 * SDXL-shaped exports, whose traced graph always upsamples by exactly 2), rounded down
 * like diffusers floors to multiples of 8, never below one multiple.
 */
export function snapSize(v: number, multiple: number): number {
  return Math.max(multiple, Math.floor(v / multiple) * multiple);
}

/** Lanczos resize (what diffusers' PIL resize does when sizes differ). */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Bilinear resize of a soft mask (it is binarised afterwards). */
export function resizeMask(mask: Mask, width: number, height: number): Mask {
  if (mask.width === width && mask.height === height) return mask;
  const out = new Float32Array(width * height);
  const sx = mask.width / width;
  const sy = mask.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(mask.height - 1, Math.floor(fy));
    const y1 = Math.min(mask.height - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(mask.width - 1, Math.floor(fx));
      const x1 = Math.min(mask.width - 1, x0 + 1);
      const tx = fx - x0;
      const d = mask.data;
      const top = d[y0 * mask.width + x0]! * (1 - tx) + d[y0 * mask.width + x1]! * tx;
      const bot = d[y1 * mask.width + x0]! * (1 - tx) + d[y1 * mask.width + x1]! * tx;
      out[y * width + x] = top * (1 - ty) + bot * ty;
    }
  }
  return { width, height, data: out };
}
