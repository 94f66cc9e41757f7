// Loading images and masks from a source string (URL, data URI, upload, local path):
// the shared path of image/load-image and mask/load-mask.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeError } from '../engine/errors.js';
import { decodeImage, decodeMask } from './io.js';
import { emptyMask } from './mask.js';
import { readSource, sourceKind, type SourceOptions } from './source.js';
import type { Mask, RgbImage } from './types.js';

export interface LoadOptions extends SourceOptions {
  config: SourceOptions['config'] & { maxImagePixels: number };
}

/** Re-throws a NodeError with extra details (e.g. which param was wrong). */
export function withDetails(err: unknown, details: Record<string, unknown>): unknown {
  if (err instanceof NodeError) return new NodeError(err.code, err.message, { ...details, ...err.details });
  return err;
}

/**
 * Cache fingerprint of a source: local files change in place, so their size and mtime
 * count; URLs, data URIs and uploads are keyed by the string itself.
 */
export async function sourceFingerprint(source: string, allowLocalPaths: boolean): Promise<string> {
  // Without local paths allowed the run will refuse the path: do not even stat it.
  if (!allowLocalPaths || sourceKind(source) !== 'file') return '';
  try {
    const s = source.trim();
    const file = s.toLowerCase().startsWith('file:') ? fileURLToPath(s) : path.resolve(s);
    const st = await stat(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export interface LoadedImage {
  image: RgbImage;
  /** 1 - alpha (transparent = repaint) when asked and present; zeros otherwise. */
  alphaMask: Mask;
  hasAlpha: boolean;
  format: string;
}

export async function loadImage(source: string, opts: LoadOptions & { alphaAsMask?: boolean }): Promise<LoadedImage> {
  const { bytes } = await readSource(source, opts);
  const { image, alpha, format } = await decodeImage(bytes, { maxPixels: opts.config.maxImagePixels });
  const alphaMask = emptyMask(image.width, image.height);
  if (opts.alphaAsMask && alpha) for (let i = 0; i < alpha.length; i++) alphaMask.data[i] = 1 - alpha[i]!;
  return { image, alphaMask, hasAlpha: alpha !== undefined, format };
}

export async function loadMask(source: string, opts: LoadOptions): Promise<Mask> {
  const { bytes } = await readSource(source, opts);
  return decodeMask(bytes, { maxPixels: opts.config.maxImagePixels });
}
