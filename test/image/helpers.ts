// Synthetic test images (no binary fixtures needed).
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { Mask, RgbImage } from '../../server/image/types.js';

/** Smooth, photo-like colour field: gradients plus low-frequency waves. */
export function naturalTexture(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const ph = [seed * 0.7, seed * 1.3, seed * 2.1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const i = (y * width + x) * 3;
      data[i] = Math.round(90 + 80 * u + 30 * Math.sin(6.3 * v + ph[0]!) + 15 * Math.sin(11 * (u + v) + ph[1]!));
      data[i + 1] = Math.round(120 + 60 * v + 25 * Math.cos(5.1 * u + ph[1]!) + 10 * Math.sin(13 * u - 7 * v));
      data[i + 2] = Math.round(70 + 50 * (1 - u) * v + 35 * Math.sin(4.4 * u + 3.3 * v + ph[2]!));
    }
  }
  return { width, height, data };
}

/** Deterministic pseudo-random noise image. */
export function noiseImage(width: number, height: number, seed = 7): RgbImage {
  let s = seed >>> 0;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}

export function rectMask(width: number, height: number, x: number, y: number, w: number, h: number): Mask {
  const data = new Float32Array(width * height);
  for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) data[r * width + c] = 1;
  return { width, height, data };
}

export async function encode(img: RgbImage, format: 'png' | 'jpeg' | 'webp' | 'gif' | 'avif'): Promise<Buffer> {
  const s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  return s.toFormat(format, format === 'webp' || format === 'avif' ? { lossless: true } : {}).toBuffer();
}

export function maskToPng(mask: Mask): Promise<Buffer> {
  const grey = Uint8Array.from(mask.data, (v) => Math.round(v * 255));
  return sharp(grey, { raw: { width: mask.width, height: mask.height, channels: 1 } }).png().toBuffer();
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/**
 * A real, valid decompression bomb: a width x height 1-bit greyscale PNG of zeros
 * (20000x20000 compresses to ~50 KB).
 */
export function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rowBytes = Math.ceil(width / 8) + 1;
  const raw = Buffer.alloc(rowBytes * height);
  const idat = deflateSync(raw, { level: 9 });
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

export function dataUri(bytes: Uint8Array, type = 'image/png'): string {
  return `data:${type};base64,${Buffer.from(bytes).toString('base64')}`;
}

export function meanAbsError(a: RgbImage, b: RgbImage, where: (i: number) => boolean): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.width * a.height; i++) {
    if (!where(i)) continue;
    for (let c = 0; c < 3; c++) sum += Math.abs(a.data[i * 3 + c]! - b.data[i * 3 + c]!);
    n += 3;
  }
  return sum / Math.max(1, n);
}

/** Index of the first differing byte, or -1 (vitest's toEqual is slow on big typed arrays). */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
