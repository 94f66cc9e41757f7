import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeMask, encodeImage } from '../../server/image/io.js';
import { encode, naturalTexture, noiseImage, pngBomb, firstDiff } from './helpers.js';

const limits = { maxPixels: 64 * 1024 * 1024 };

describe('decodeImage', () => {
  const img = naturalTexture(48, 32);

  it.each(['png', 'jpeg', 'webp', 'gif', 'avif'] as const)('decodes %s', async (format) => {
    const bytes = await encode(img, format);
    const out = await decodeImage(bytes, limits);
    expect(out.image.width).toBe(48);
    expect(out.image.height).toBe(32);
    expect(out.image.data.length).toBe(48 * 32 * 3);
    expect(out.alpha).toBeUndefined();
    // Lossless formats are exact; lossy ones close; GIF is palettised.
    const tol = format === 'png' || format === 'webp' ? 0 : format === 'gif' ? 40 : 12;
    let maxDiff = 0;
    let sum = 0;
    for (let i = 0; i < img.data.length; i++) {
      const d = Math.abs(out.image.data[i]! - img.data[i]!);
      maxDiff = Math.max(maxDiff, d);
      sum += d;
    }
    if (tol === 0) expect(maxDiff).toBe(0);
    else expect(sum / img.data.length).toBeLessThan(tol);
  });

  it('takes the first frame of an animated GIF', async () => {
    const frames = Buffer.concat([Buffer.alloc(4 * 4 * 4, 255), Buffer.alloc(4 * 4 * 4, 0)]);
    const gif = await sharp(frames, { raw: { width: 4, height: 8, channels: 4, pageHeight: 4 } as never }).gif().toBuffer();
    const out = await decodeImage(gif, limits);
    expect(out.image.height).toBe(4);
    expect(out.image.data[0]).toBe(255);
  });

  it('applies EXIF orientation', async () => {
    // 40x20 image, left half red; orientation 6 = rotate 90° clockwise to display.
    const raw = new Uint8Array(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) raw[(y * 40 + x) * 3] = 255;
    const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const out = await decodeImage(jpeg, limits);
    expect(out.image.width).toBe(20);
    expect(out.image.height).toBe(40);
    // After rotating clockwise, the left half becomes the top half.
    expect(out.image.data[(5 * 20 + 10) * 3]).toBeGreaterThan(200);
    expect(out.image.data[(35 * 20 + 10) * 3]).toBeLessThan(50);
  });

  it('splits alpha and converts greyscale to RGB', async () => {
    const rgba = new Uint8Array([10, 20, 30, 0, 40, 50, 60, 255]);
    const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    const out = await decodeImage(png, limits);
    expect([...out.image.data]).toEqual([10, 20, 30, 40, 50, 60]);
    expect([...out.alpha!]).toEqual([0, 1]);
    const grey = await sharp(new Uint8Array([7, 200]), { raw: { width: 2, height: 1, channels: 1 } }).png().toBuffer();
    expect([...(await decodeImage(grey, limits)).image.data]).toEqual([7, 7, 7, 200, 200, 200]);
  });

  it('reduces 16-bit PNGs to 8 bits (colour images and grey masks)', async () => {
    const c16 = await sharp(Buffer.from([0, 128, 255, 10, 20, 30]), { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(c16).metadata()).depth).toBe('ushort');
    expect([...(await decodeImage(c16, limits)).image.data]).toEqual([0, 128, 255, 10, 20, 30]);
    const g16 = await sharp(Buffer.from([0, 128, 255]), { raw: { width: 3, height: 1, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    expect([...(await decodeMask(g16, limits)).data]).toEqual([0, Math.fround(128 / 255), 1]);
  });

  it('rejects a 20000x20000 PNG bomb before decoding, in milliseconds', async () => {
    const bomb = pngBomb(20000, 20000);
    expect(bomb.length).toBeLessThan(200_000);
    const t0 = performance.now();
    await expect(decodeImage(bomb, limits)).rejects.toMatchObject({ code: 'image_too_large' });
    // Decoding 400 M pixels would take seconds and gigabytes; the header check takes milliseconds
    // (the bound leaves room for a loaded CI machine).
    expect(performance.now() - t0).toBeLessThan(250);
  });

  it('rejects a truncated JPEG with image_truncated, in milliseconds', async () => {
    const jpeg = await encode(noiseImage(256, 256), 'jpeg');
    for (const keep of [0.6, 0.95]) {
      const cut = jpeg.subarray(0, Math.floor(jpeg.length * keep));
      const t0 = performance.now();
      await expect(decodeImage(cut, limits)).rejects.toMatchObject({ code: 'image_truncated' });
      expect(performance.now() - t0).toBeLessThan(200);
    }
  });

  it('rejects data that is not an image, and unsupported formats', async () => {
    await expect(decodeImage(new TextEncoder().encode('hello, not an image'), limits)).rejects.toMatchObject({ code: 'image_unsupported_format' });
    const tiff = await sharp(naturalTexture(8, 8).data, { raw: { width: 8, height: 8, channels: 3 } }).tiff().toBuffer();
    await expect(decodeImage(tiff, limits)).rejects.toMatchObject({ code: 'image_unsupported_format' });
  });
});

describe('decodeMask', () => {
  it('converts RGB with PIL luma, keeps grey levels, darkens by alpha', async () => {
    const rgb = new Uint8Array([255, 255, 255, 0, 0, 0, 128, 128, 128, 255, 0, 0]);
    const png = await sharp(rgb, { raw: { width: 4, height: 1, channels: 3 } }).png().toBuffer();
    const m = await decodeMask(png, limits);
    expect(m.data[0]).toBe(1);
    expect(m.data[1]).toBe(0);
    expect(m.data[2]).toBeCloseTo(128 / 255, 6);
    expect(m.data[3]).toBeCloseTo(((19595 * 255 + 32768) >> 16) / 255, 6);
    const rgba = new Uint8Array([255, 255, 255, 0, 255, 255, 255, 255]);
    const png2 = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    expect([...(await decodeMask(png2, limits)).data]).toEqual([0, 1]);
  });
});

describe('encodeImage', () => {
  it('encodes png losslessly and jpeg/webp with quality', async () => {
    const img = naturalTexture(32, 16);
    const png = await encodeImage(img, { format: 'png' });
    expect(firstDiff((await decodeImage(png, limits)).image.data, img.data)).toBe(-1);
    const hi = await encodeImage(noiseImage(64, 64), { format: 'jpeg', quality: 95 });
    const lo = await encodeImage(noiseImage(64, 64), { format: 'jpeg', quality: 20 });
    expect(lo.length).toBeLessThan(hi.length);
    expect((await sharp(await encodeImage(img, { format: 'webp', quality: 80 })).metadata()).format).toBe('webp');
  });
});
