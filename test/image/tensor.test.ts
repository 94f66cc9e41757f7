import { describe, expect, it } from 'vitest';
import { imageToTensor, maskToTensor, tensorToImages } from '../../server/image/tensor.js';
import { noiseImage } from './helpers.js';

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
    expect(back[1]!.data).toEqual(img.data);
  });

  it('mask tensor, optionally binarised at >= threshold', () => {
    const m = { width: 2, height: 1, data: Float32Array.from([0.49, 0.5]) };
    expect(maskToTensor(m).dims).toEqual([1, 1, 1, 2]);
    expect([...maskToTensor(m, 0.5).data]).toEqual([0, 1]);
  });
});
