import { describe, expect, it } from 'vitest';
import { cropRegionForMask, cropToBox, uncrop } from '../../server/image/crop.js';
import { noiseImage, rectMask, firstDiff } from './helpers.js';

describe('crop to mask', () => {
  it('pads the mask box and extends it to the target aspect ratio, inside the image', () => {
    const mask = rectMask(200, 100, 90, 40, 20, 10);
    // Box 70..130 x 20..70 with padding 20 (60x50), widened to 1:1 -> 60x60, centred.
    expect(cropRegionForMask(mask, 20, 512, 512)).toEqual({ x: 70, y: 15, width: 60, height: 60 });
    // 2:1 target: 60x50 -> 100x50.
    expect(cropRegionForMask(mask, 20, 1024, 512)).toEqual({ x: 50, y: 20, width: 100, height: 50 });
    // Near an edge the box shifts instead of leaving the image.
    const corner = rectMask(200, 100, 0, 0, 10, 10);
    expect(cropRegionForMask(corner, 5, 1, 1)).toEqual({ x: 0, y: 0, width: 15, height: 15 });
    const tall = rectMask(200, 100, 95, 0, 10, 100);
    expect(cropRegionForMask(tall, 0, 1, 4)).toEqual({ x: 88, y: 0, width: 25, height: 100 });
    // Wider than the image can give: the full width, the ratio is approximated.
    expect(cropRegionForMask(tall, 0, 4, 1)).toEqual({ x: 0, y: 0, width: 200, height: 100 });
    expect(cropRegionForMask(rectMask(10, 10, 0, 0, 0, 0), 5, 1, 1)).toBeUndefined();
  });

  it('round-trips exactly when the working size is the box size', async () => {
    const img = noiseImage(120, 90);
    const mask = rectMask(120, 90, 30, 30, 20, 15);
    const box = cropRegionForMask(mask, 8, 0, 0)!;
    const c = await cropToBox(img, mask, box, 0, 0);
    expect(c.image.width).toBe(box.width);
    expect(c.crop).toMatchObject({ ...box, originalWidth: 120, originalHeight: 90, workWidth: box.width, workHeight: box.height });
    const back = await uncrop(img, c.image, c.crop);
    expect(firstDiff(back.data, img.data)).toBe(-1);
  });

  it('scales to the working size and back; outside the mask stays exact', async () => {
    const img = noiseImage(160, 120);
    const mask = rectMask(160, 120, 60, 50, 30, 20);
    const box = cropRegionForMask(mask, 16, 64, 64)!;
    const c = await cropToBox(img, mask, box, 64, 64);
    expect([c.image.width, c.image.height, c.mask.width, c.mask.height]).toEqual([64, 64, 64, 64]);
    // "Process" the crop: paint it white, then put it back through the crop-space mask.
    const white = { ...c.image, data: new Uint8Array(c.image.data.length).fill(255) };
    const out = await uncrop(img, white, c.crop, c.mask);
    const full = await uncrop(img, white, c.crop, mask);
    let wrong = 0;
    for (let y = 0; y < 120; y++) {
      for (let x = 0; x < 160; x++) {
        const i = (y * 160 + x) * 3;
        const inBox = x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
        const inMask = mask.data[y * 160 + x] === 1;
        if (!inBox && out.data[i] !== img.data[i]) wrong++;
        if (full.data[i] !== (inMask ? 255 : img.data[i])) wrong++;
      }
    }
    expect(wrong).toBe(0);
    // The crop-space mask, scaled back, covers the mask interior.
    expect(out.data[(60 * 160 + 75) * 3]).toBe(255);
  });
});
