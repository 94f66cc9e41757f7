import { describe, expect, it } from 'vitest';
import { applyColorTransfer, compositeImage, measureColorShift } from '../../server/image/composite.js';
import { decodeImage, encodeImage } from '../../server/image/io.js';
import { prepareMask } from '../../server/image/mask.js';
import { resizeImage } from '../../server/image/resize.js';
import type { RgbImage } from '../../server/image/types.js';
import { naturalTexture, noiseImage, rectMask } from './helpers.js';

const resize = (img: RgbImage, w: number, h: number) => resizeImage(img, w, h, 'exact');

describe('composite', () => {
  const original = noiseImage(96, 80, 3);
  const generated = noiseImage(96, 80, 99);
  const { soft } = prepareMask(rectMask(96, 80, 30, 20, 25, 30), { threshold: 0.5, grow: 3, feather: 6, invert: false });

  it('keeps every pixel outside the feathered band byte-identical (also through PNG)', async () => {
    const out = await compositeImage(original, generated, soft, { resize });
    const png = await encodeImage(out, { format: 'png' });
    const back = (await decodeImage(png, { maxPixels: 1e8 })).image;
    let outside = 0;
    let inside = 0;
    let wrong = 0;
    for (let i = 0; i < 96 * 80; i++) {
      const m = soft.data[i]!;
      for (let c = 0; c < 3; c++) {
        if (m === 0 && back.data[i * 3 + c] !== original.data[i * 3 + c]) wrong++;
        if (m === 1 && back.data[i * 3 + c] !== generated.data[i * 3 + c]) wrong++;
      }
      if (m === 0) outside++;
      if (m === 1) inside++;
    }
    expect(wrong).toBe(0);
    expect(outside).toBeGreaterThan(4000);
    expect(inside).toBeGreaterThan(800);
  });

  it('blends in the band and resizes a generated image of another size', async () => {
    const small = { width: 48, height: 40, data: new Uint8Array(48 * 40 * 3).fill(200) };
    const out = await compositeImage(original, small, soft, { resize });
    let wrong = 0;
    for (let i = 0; i < 96 * 80; i++) {
      const m = soft.data[i]!;
      const want = m === 0 ? original.data[i * 3] : Math.round(original.data[i * 3]! * (1 - m) + 200 * m);
      if (out.data[i * 3] !== want) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it('colour matching removes a colour shift measured around the mask', async () => {
    const base = naturalTexture(128, 128);
    // The "model" output: same picture with a colour cast, and new content in the hole.
    const shifted = { ...base, data: Uint8Array.from(base.data, (v, i) => Math.min(255, Math.max(0, Math.round(v * 0.9 + (i % 3 === 0 ? 20 : -8))))) };
    const mask = rectMask(128, 128, 40, 40, 40, 40);
    const shift = measureColorShift(base, shifted, mask)!;
    expect(shift.samples).toBeGreaterThan(1000);
    const fixed = applyColorTransfer(shifted, shift);
    const err = (img: RgbImage) => {
      let s = 0;
      for (let i = 0; i < img.data.length; i++) s += Math.abs(img.data[i]! - base.data[i]!);
      return s / img.data.length;
    };
    expect(err(fixed)).toBeLessThan(err(shifted) / 4);
    const out = await compositeImage(base, shifted, mask, { colorMatch: true, resize });
    // Outside the mask still identical; inside close to the truth.
    expect(out.data[0]).toBe(base.data[0]);
    const c = (60 * 128 + 60) * 3;
    expect(Math.abs(out.data[c]! - base.data[c]!)).toBeLessThanOrEqual(2);
  });
});
