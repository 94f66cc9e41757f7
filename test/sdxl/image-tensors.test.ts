import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeMask } from '../../server/image/io.js';
import { binarizeMask, downsampleNearest, imageToTensor, maskedImage, resizeImage, snapSize, tensorToImages } from '../../server/sdxl/image-tensors.js';
import { GOLDENS, readF32 } from './golden-io.js';

const dir = path.join(GOLDENS, 'inpaint9_dpmpp2mk_s060');
const limits = { maxPixels: 1 << 24 };

describe('image and mask tensors (diffusers preprocessing)', () => {
  it('image -> [-1,1] NCHW equals init_image.bin bit for bit', async () => {
    const { image } = await decodeImage(new Uint8Array(readFileSync(path.join(dir, 'image.png'))), limits);
    expect(Array.from(imageToTensor(image))).toEqual(Array.from(readF32(path.join(dir, 'init_image.bin'))));
  });

  it('mask: binarised at >= 0.5 and nearest-downsampled exactly like mask_full / mask_latent', async () => {
    const mask = await decodeMask(new Uint8Array(readFileSync(path.join(dir, 'mask.png'))), limits);
    const full = binarizeMask(mask);
    expect(Array.from(full)).toEqual(Array.from(readF32(path.join(dir, 'mask_full.bin'))));
    // The test masks have soft ramps: a threshold or sampling-position error shows up here.
    expect(mask.data.some((v) => v > 0 && v < 1)).toBe(true);
    expect(Array.from(downsampleNearest(full, 128, 128, 16, 16))).toEqual(Array.from(readF32(path.join(dir, 'mask_latent.bin'))));
  });

  it('nearest downsampling takes the top-left pixel of each block', () => {
    const full = new Float32Array(16 * 16);
    full[8 * 16 + 8] = 1; // top-left of block (1,1)
    full[8 * 16 + 9] = 1; // inside block (1,1), not sampled... but block (1,1) already 1
    full[3 * 16 + 3] = 1; // centre of block (0,0): not sampled
    expect(Array.from(downsampleNearest(full, 16, 16, 2, 2))).toEqual([0, 0, 0, 1]);
  });

  it('masked image zeroes repainted pixels', () => {
    const img = Float32Array.from([0.5, -0.5, 0.25, -0.25, 1, -1]); // 3 channels × 2 px
    expect(Array.from(maskedImage(img, Float32Array.from([1, 0])))).toEqual([0, -0.5, 0, -0.25, 0, -1]);
  });

  it('tensor -> images rounds x*255', () => {
    const t = Float32Array.from([0, 1, 0.5, 0.2, 0.999, 0.0019]);
    expect(Array.from(tensorToImages(t, 1, 1, 2)[0]!.data)).toEqual([0, 128, 255, 255, 51, 0]);
  });

  it('snaps sizes down to the model multiple and resizes with Lanczos', async () => {
    expect(snapSize(1000, 32)).toBe(992);
    expect(snapSize(1024, 32)).toBe(1024);
    expect(snapSize(20, 32)).toBe(32);
    const img = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).fill(200) };
    const r = await resizeImage(img, 32, 32);
    expect([r.width, r.height, r.data.length]).toEqual([32, 32, 32 * 32 * 3]);
    expect(r.data.every((v) => v === 200)).toBe(true);
  });
});
