// Loading images and masks from a source string (URL, data URI, upload, local path):
// the shared path of image/load-image and mask/load-mask.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from '../engine/context.js';
import { NodeError } from '../engine/errors.js';
import { decodeImage, decodeMask } from './io.js';
import { emptyMask } from './mask.js';
import { readSource, sourceKind, type SourceBytes, type SourceOptions } from './source.js';
import type { Mask, RgbImage } from './types.js';

export interface LoadOptions extends SourceOptions {
  config: SourceOptions['config'] & { maxImagePixels: number };
  /** The run reading the source: pairs a fingerprint's fetch with the execute() that follows. */
  runId?: string;
}

/**
 * http(s) bytes fetched by sourceFingerprint, handed to the execute() that follows in the same run
 * so a URL is fetched once. A cache hit never takes its entry; the count bound drops it later.
 */
const prefetched = new Map<string, SourceBytes>();
const PREFETCH_KEEP = 4;

const prefetchKey = (source: string, opts: LoadOptions) => `${opts.runId ?? ''}\0${source}`;

function readOnce(source: string, opts: LoadOptions): Promise<SourceBytes> {
  const key = prefetchKey(source, opts);
  const hit = prefetched.get(key);
  if (!hit) return readSource(source, opts);
  prefetched.delete(key);
  return Promise.resolve(hit);
}

/** Re-throws a NodeError with extra details (e.g. which param was wrong). */
export function withDetails(err: unknown, details: Record<string, unknown>): unknown {
  if (err instanceof NodeError) return new NodeError(err.code, err.message, { ...details, ...err.details });
  return err;
}

/**
 * Cache fingerprint of a source. What a URL serves can change from one request to the next (an
 * app overwriting `.../input.png`), so http(s) sources are fetched and keyed by their content;
 * local files change in place, so their size and mtime count; data URIs and uploads (immutable)
 * are keyed by the string itself.
 */
export async function sourceFingerprint(source: string, opts: LoadOptions): Promise<string> {
  const kind = sourceKind(source);
  if (kind === 'http') {
    const got = await readSource(source, opts);
    const key = prefetchKey(source, opts);
    prefetched.delete(key);
    prefetched.set(key, got);
    while (prefetched.size > PREFETCH_KEEP) prefetched.delete(prefetched.keys().next().value!);
    return `sha256:${createHash('sha256').update(got.bytes).digest('hex')}`;
  }
  // Without local paths allowed the run will refuse the path: do not even stat it.
  if (!opts.config.allowLocalPaths || kind !== 'file') return '';
  try {
    const s = source.trim();
    const file = s.toLowerCase().startsWith('file:') ? fileURLToPath(s) : path.resolve(s);
    const st = await stat(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** A load node's fingerprint: the source of its `url` param, read with the run's context. */
export function urlParamFingerprint(url: string, ctx: ExecutionContext): Promise<string> {
  return sourceFingerprint(url, { config: ctx.services.config, files: ctx.files, signal: ctx.signal, runId: ctx.runId }).catch((err: unknown) => {
    throw withDetails(err, { param: 'url' });
  });
}

export interface LoadedImage {
  image: RgbImage;
  /** 1 - alpha (transparent = repaint) when asked and present; zeros otherwise. */
  alphaMask: Mask;
  hasAlpha: boolean;
  format: string;
}

export async function loadImage(source: string, opts: LoadOptions & { alphaAsMask?: boolean }): Promise<LoadedImage> {
  const { bytes } = await readOnce(source, opts);
  const { image, alpha, format } = await decodeImage(bytes, { maxPixels: opts.config.maxImagePixels });
  const alphaMask = emptyMask(image.width, image.height);
  if (opts.alphaAsMask && alpha) for (let i = 0; i < alpha.length; i++) alphaMask.data[i] = 1 - alpha[i]!;
  return { image, alphaMask, hasAlpha: alpha !== undefined, format };
}

export async function loadMask(source: string, opts: LoadOptions): Promise<Mask> {
  const { bytes } = await readOnce(source, opts);
  return decodeMask(bytes, { maxPixels: opts.config.maxImagePixels });
}
