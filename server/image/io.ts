// Decoding and encoding with sharp, under limits. The header is read first so a
// decompression bomb is refused before any pixel is decoded.
import sharp from 'sharp';
import { NodeError } from '../engine/errors.js';
import type { Mask, RgbImage } from './types.js';
import { insertPngText } from './png-metadata.js';

export const SUPPORTED_INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'heif'] as const;

export interface DecodeLimits {
  /** Refuse images with more pixels than this (width * height, after the header is read). */
  maxPixels: number;
}

export interface DecodedImage {
  image: RgbImage;
  /** Alpha channel in [0,1] (1 = opaque) when the image has one. */
  alpha?: Float32Array;
  /** sharp's name of the container format (heif covers AVIF). */
  format: string;
}

function mapSharpError(err: unknown): NodeError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/exceeds pixel limit/i.test(msg)) return new NodeError('image_too_large', `image is larger than the pixel limit: ${msg}`);
  if (/unsupported image format/i.test(msg)) return new NodeError('image_unsupported_format', 'data is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF)');
  if (/premature end|end of stream|truncat|unexpected end|not enough data|corrupt|short read/i.test(msg)) {
    return new NodeError('image_truncated', `image data is truncated or corrupt: ${msg}`);
  }
  return new NodeError('image_decode_failed', `could not decode image: ${msg}`);
}

async function readHeader(bytes: Uint8Array, limits: DecodeLimits): Promise<sharp.Metadata> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw mapSharpError(err);
  }
  if (!meta.format || !(SUPPORTED_INPUT_FORMATS as readonly string[]).includes(meta.format)) {
    throw new NodeError('image_unsupported_format', `image format "${meta.format ?? 'unknown'}" is not supported (JPEG, PNG, WebP, GIF, AVIF)`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w <= 0 || h <= 0) throw new NodeError('image_decode_failed', 'image has no pixels');
  if (w * h > limits.maxPixels) {
    throw new NodeError('image_too_large', `image is ${w}x${h} = ${w * h} pixels; the limit is ${limits.maxPixels}`, { width: w, height: h, limit: limits.maxPixels });
  }
  return meta;
}

/** Raw 8-bit sRGB pixels (1..4 channels) after EXIF orientation; first frame of animations. */
async function decodeRaw(
  bytes: Uint8Array,
  limits: DecodeLimits,
  keepGrey = false,
): Promise<{ data: Uint8Array; width: number; height: number; channels: number; format: string }> {
  const meta = await readHeader(bytes, limits);
  try {
    let pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'truncated', pages: 1 }).rotate();
    // 8-bit greyscale masks stay one channel (no RGB expansion just to take luma again).
    if (!(keepGrey && meta.space === 'b-w' && meta.depth === 'uchar')) pipeline = pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    // A plain Uint8Array view: element access on a Node Buffer is several times slower
    // in the per-pixel loops below.
    const px = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { data: px, width: info.width, height: info.height, channels: info.channels, format: meta.format! };
  } catch (err) {
    throw mapSharpError(err);
  }
}

/** Decodes JPEG/PNG/WebP/GIF/AVIF bytes to RGB (+ alpha when present). */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  const raw = await decodeRaw(bytes, limits);
  const { width, height, channels, data } = raw;
  const n = width * height;
  // 3 channels: sharp's output buffer is the image (no copy: fresh memory is costly).
  if (channels === 3) return { image: { width, height, data: data.subarray(0, n * 3) }, format: raw.format };
  const rgb = new Uint8Array(n * 3);
  let alpha: Float32Array | undefined;
  {
    const hasAlpha = channels === 2 || channels === 4;
    const colour = channels >= 3;
    if (hasAlpha) alpha = new Float32Array(n);
    for (let i = 0, s = 0, d = 0; i < n; i++, s += channels, d += 3) {
      if (colour) {
        rgb[d] = data[s]!;
        rgb[d + 1] = data[s + 1]!;
        rgb[d + 2] = data[s + 2]!;
      } else {
        rgb[d] = rgb[d + 1] = rgb[d + 2] = data[s]!;
      }
      if (alpha) alpha[i] = data[s + channels - 1]! / 255;
    }
  }
  return { image: { width, height, data: rgb }, alpha, format: raw.format };
}

/**
 * Decodes a mask: grey level = luma of RGB (PIL "L": (19595R + 38470G + 7471B + 32768) >> 16,
 * as diffusers converts masks), scaled to [0,1]; white = repaint. With an alpha channel the
 * mask is composited over black, so transparent pixels are "keep".
 */
export async function decodeMask(bytes: Uint8Array, limits: DecodeLimits): Promise<Mask> {
  const { data, width, height, channels } = await decodeRaw(bytes, limits, true);
  const n = width * height;
  const out = new Float32Array(n);
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v / 255;
  // One loop per layout: the per-pixel branch and division of a generic loop cost more than the decode.
  if (channels === 1) {
    for (let i = 0; i < n; i++) out[i] = lut[data[i]!]!;
  } else if (channels === 3) {
    for (let i = 0, s = 0; i < n; i++, s += 3) out[i] = lut[(19595 * data[s]! + 38470 * data[s + 1]! + 7471 * data[s + 2]! + 32768) >> 16]!;
  } else {
    const colour = channels >= 3;
    const a = channels - 1;
    for (let i = 0, s = 0; i < n; i++, s += channels) {
      const l = colour ? (19595 * data[s]! + 38470 * data[s + 1]! + 7471 * data[s + 2]! + 32768) >> 16 : data[s]!;
      out[i] = (l * data[s + a]!) / (255 * 255);
    }
  }
  return { width, height, data: out };
}

export type OutputFormat = 'png' | 'jpeg' | 'webp';

export interface EncodeOptions {
  format: OutputFormat;
  /** 1..100, for jpeg and webp. */
  quality?: number;
  /** PNG text chunks (keyword -> text), e.g. { workflow: JSON }. */
  pngText?: Record<string, string>;
}

export const CONTENT_TYPES: Record<OutputFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

export function sharpFromImage(image: RgbImage): sharp.Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

export async function encodeImage(image: RgbImage, opts: EncodeOptions): Promise<Uint8Array> {
  const q = Math.max(1, Math.min(100, Math.round(opts.quality ?? 90)));
  const s = sharpFromImage(image);
  let buf: Buffer;
  if (opts.format === 'jpeg') buf = await s.jpeg({ quality: q, mozjpeg: false, chromaSubsampling: q >= 90 ? '4:4:4' : '4:2:0' }).toBuffer();
  else if (opts.format === 'webp') buf = await s.webp({ quality: q }).toBuffer();
  // Level 3 with adaptive filtering: on photos about half the size of level 6 without, and faster.
  else buf = await s.png({ compressionLevel: 3, adaptiveFiltering: true }).toBuffer();
  let bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (opts.format === 'png' && opts.pngText) {
    for (const [keyword, text] of Object.entries(opts.pngText)) bytes = insertPngText(bytes, keyword, text);
  }
  return bytes;
}

/** Preview-sized JPEG for progress events. */
export async function encodePreview(image: RgbImage, maxSide = 256): Promise<Uint8Array> {
  const buf = await sharpFromImage(image).resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 70 }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
