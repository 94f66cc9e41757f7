// transformers' image processors (4.38 semantics) as safety models' preprocessor_config.json
// describes them: CLIPImageProcessor (shortest-edge resize + centre crop, the SD
// feature_extractor) and ViTImageProcessor (resize straight to height x width).
// Output is float32 CHW, computed in the same float32 steps as numpy so it is bit-exact.
import { readFile } from 'node:fs/promises';
import type { RgbImage } from '../image/types.js';
import { pilFilterFromId, pilResize, type PilFilter } from './pil-resize.js';

export interface ImageProcessor {
  kind: 'clip' | 'vit';
  resize?: { shortestEdge: number } | { height: number; width: number };
  crop?: { height: number; width: number };
  filter: PilFilter;
  rescaleFactor?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
}

type Raw = Record<string, unknown>;

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`preprocessor_config.json: ${what} must be a number`);
  return v;
}

function triple(v: unknown, what: string): [number, number, number] {
  if (typeof v === 'number') return [v, v, v];
  if (!Array.isArray(v) || v.length !== 3) throw new Error(`preprocessor_config.json: ${what} must be 3 numbers`);
  return [num(v[0], what), num(v[1], what), num(v[2], what)];
}

function hw(v: unknown, what: string): { height: number; width: number } {
  if (typeof v === 'number') return { height: v, width: v };
  const o = v as Raw;
  return { height: num(o?.height, `${what}.height`), width: num(o?.width, `${what}.width`) };
}

/** Parses a preprocessor_config.json object; old CLIPFeatureExtractor configs (`"size": 224`) mean the same as new ones. */
export function parseImageProcessor(raw: Raw): ImageProcessor {
  const type = String(raw.image_processor_type ?? raw.feature_extractor_type ?? '');
  const kind: 'clip' | 'vit' = /^CLIP/.test(type) ? 'clip' : /^(ViT|DeiT|BEiT)/.test(type) ? 'vit' : (() => {
    throw new Error(`preprocessor_config.json: unsupported image processor "${type || '(none)'}" (CLIPImageProcessor, ViTImageProcessor, DeiTImageProcessor or BEiTImageProcessor)`);
  })();
  const p: ImageProcessor = { kind, filter: pilFilterFromId(raw.resample === undefined ? (kind === 'clip' ? 3 : 2) : num(raw.resample, 'resample')) };
  if (raw.do_resize ?? true) {
    const size = raw.size ?? (kind === 'clip' ? { shortest_edge: 224 } : { height: 224, width: 224 });
    if (typeof size === 'number') p.resize = kind === 'clip' ? { shortestEdge: size } : { height: size, width: size };
    else if ((size as Raw).shortest_edge !== undefined) p.resize = { shortestEdge: num((size as Raw).shortest_edge, 'size.shortest_edge') };
    else p.resize = hw(size, 'size');
  }
  // CLIPImageProcessor crops by default; ViTImageProcessor has no crop step; DeiT/BEiT say do_center_crop.
  if (raw.do_center_crop ?? kind === 'clip') p.crop = hw(raw.crop_size ?? 224, 'crop_size');
  if (raw.do_rescale ?? true) p.rescaleFactor = raw.rescale_factor === undefined ? 1 / 255 : num(raw.rescale_factor, 'rescale_factor');
  if (raw.do_normalize ?? true) {
    const defMean = kind === 'clip' ? [0.48145466, 0.4578275, 0.40821073] : [0.5, 0.5, 0.5];
    const defStd = kind === 'clip' ? [0.26862954, 0.26130258, 0.27577711] : [0.5, 0.5, 0.5];
    p.mean = triple(raw.image_mean ?? defMean, 'image_mean');
    p.std = triple(raw.image_std ?? defStd, 'image_std');
  }
  return p;
}

export async function loadImageProcessor(file: string): Promise<ImageProcessor> {
  let raw: Raw;
  try {
    raw = JSON.parse(await readFile(file, 'utf8')) as Raw;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseImageProcessor(raw);
}

/** transformers' get_resize_output_image_size with default_to_square=False: long side = int(size * long / short). */
export function resizedSize(p: ImageProcessor, width: number, height: number): { width: number; height: number } {
  const r = p.resize;
  if (!r) return { width, height };
  if ('shortestEdge' in r) {
    const short = Math.min(width, height);
    const long = Math.max(width, height);
    const newLong = Math.trunc((r.shortestEdge * long) / short);
    return width <= height ? { width: r.shortestEdge, height: newLong } : { width: newLong, height: r.shortestEdge };
  }
  return { width: r.width, height: r.height };
}

/** transformers' center_crop on a uint8 HWC image, zero-padding when the crop is larger than the image. */
export function centerCrop(img: RgbImage, cropW: number, cropH: number): { image: RgbImage; top: number; left: number } {
  const top = Math.floor((img.height - cropH) / 2);
  const left = Math.floor((img.width - cropW) / 2);
  const out = new Uint8Array(cropW * cropH * 3);
  // Padding puts the image at ceil(pad/2), which is where the floor offset above points anyway.
  for (let y = 0; y < cropH; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < cropW; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      const s = (sy * img.width + sx) * 3;
      const o = (y * cropW + x) * 3;
      out[o] = img.data[s]!;
      out[o + 1] = img.data[s + 1]!;
      out[o + 2] = img.data[s + 2]!;
    }
  }
  return { image: { width: cropW, height: cropH, data: out }, top, left };
}

export interface Preprocessed {
  /** float32 [3, height, width] */
  data: Float32Array;
  width: number;
  height: number;
}

/** Runs the processor on one uint8 RGB image (convert_rgb is implicit: the IMAGE port is RGB). */
export function preprocess(p: ImageProcessor, src: RgbImage): Preprocessed {
  const size = resizedSize(p, src.width, src.height);
  let img = pilResize(src, size.width, size.height, p.filter);
  if (p.crop) img = centerCrop(img, p.crop.width, p.crop.height).image;
  const { width, height } = img;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const f = Math.fround;
  // Per-channel lookup of the 256 possible values: rescale in float64 then cast (numpy: uint8 * float -> f64 -> astype f32),
  // normalise in float32 ((x - f32(mean)) / f32(std)).
  const luts: Float32Array[] = [0, 1, 2].map((c) => {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = p.rescaleFactor === undefined ? v : f(v * p.rescaleFactor);
      if (p.mean && p.std) x = f(f(x - f(p.mean[c]!)) / f(p.std[c]!));
      lut[v] = x;
    }
    return lut;
  });
  for (let i = 0; i < plane; i++) {
    out[i] = luts[0]![img.data[i * 3]!]!;
    out[plane + i] = luts[1]![img.data[i * 3 + 1]!]!;
    out[2 * plane + i] = luts[2]![img.data[i * 3 + 2]!]!;
  }
  return { data: out, width, height };
}
