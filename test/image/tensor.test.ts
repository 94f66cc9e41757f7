import { describe, expect, it } from 'vitest';
import { imageToTensor, maskToTensor, tensorToImages } from '../../server/image/tensor.js';
import { noiseImage, firstDiff } from './helpers.js';

describe('tensor conversion', () => {
  it('RGB u8 HWC -> [-1,1] NCHW and back', () => {
    const img = noiseImage(5, 3);
    const t = imageToTensor([img, img]);
    expect(t.dims).toEqual([2, 3, 3, 5]);
    // Pixel (x=2, y=1), green channel, second image.
    const p = 1 * 5 + 2;
    expect(t.data[1 * 45 + 15 + p]).toBeCloseTo((img.data[p * 3 + 1]! / 255) * 2 - 1, 6);
    const back = tensorToImages(t.data, t.dims);
    expect(back).toHaveLength(2);
    expect(firstDiff(back[1]!.data, img.data)).toBe(-1);
  });

  it('mask tensor, optionally binarised at >= threshold', () => {
    const m = { width: 2, height: 1, data: Float32Array.from([0.49, 0.5]) };
    expect(maskToTensor(m).dims).toEqual([1, 1, 1, 2]);
    expect([...maskToTensor(m, 0.5).data]).toEqual([0, 1]);
  });
});

describe('matches the diffusers preprocessing goldens', () => {
  it('init_image.bin and mask_full.bin are reproduced bit for bit', async () => {
    const { readFile } = await import('node:fs/promises');
    const { decodeImage, decodeMask } = await import('../../server/image/io.js');
    const dir = new URL('../fixtures/goldens/inpaint9_euler_s100/', import.meta.url);
    const f32 = (b: Buffer) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    const { image } = await decodeImage(await readFile(new URL('image.png', dir)), { maxPixels: 1e8 });
    const golden = f32(await readFile(new URL('init_image.bin', dir)));
    const t = imageToTensor([image]);
    expect(t.dims).toEqual([1, 3, 128, 128]);
    expect(Buffer.from(t.data.buffer).equals(Buffer.from(golden.buffer, golden.byteOffset, golden.byteLength))).toBe(true);
    const mask = await decodeMask(await readFile(new URL('mask.png', dir)), { maxPixels: 1e8 });
    const m = maskToTensor(mask, 0.5);
    const mg = f32(await readFile(new URL('mask_full.bin', dir)));
    expect(Buffer.from(m.data.buffer).equals(Buffer.from(mg.buffer, mg.byteOffset, mg.byteLength))).toBe(true);
  });
});
