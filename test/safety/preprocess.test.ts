import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { centerCrop, loadImageProcessor, parseImageProcessor, preprocess, resizedSize } from '../../server/safety/image-processor.js';
import { pilResize } from '../../server/safety/pil-resize.js';
import { CASES, CLASSIFIER_DIR, SD_CHECKER_DIR, caseDir, meta, readF32, readPng } from './fixtures.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('image processors vs transformers goldens (bit-exact)', async () => {
  const clip = await loadImageProcessor(path.join(SD_CHECKER_DIR, 'feature_extractor/preprocessor_config.json'));
  const vit = await loadImageProcessor(path.join(CLASSIFIER_DIR, 'preprocessor_config.json'));

  it('parses both configs', () => {
    expect(clip).toMatchObject({ kind: 'clip', filter: 'bicubic', resize: { shortestEdge: 224 }, crop: { width: 224, height: 224 } });
    expect(vit).toMatchObject({ kind: 'vit', filter: 'bilinear', resize: { width: 224, height: 224 } });
    expect(vit.crop).toBeUndefined();
  });

  for (const c of CASES) {
    it(`${c.name}: clip_input`, async () => {
      const img = await readPng(path.join(caseDir(c.name), 'image.png'));
      const m = meta(c.name).safety_checker.preprocess;
      const size = resizedSize(clip, img.width, img.height);
      expect([size.height, size.width]).toEqual(m.resized_hw);
      const crop = centerCrop(pilResize(img, size.width, size.height, 'bicubic'), 224, 224);
      expect([crop.top, crop.left]).toEqual(m.crop_top_left);
      const out = preprocess(clip, img);
      const golden = readF32(path.join(caseDir(c.name), 'clip_input.bin'));
      expect(maxAbsDiff(out.data, golden)).toBe(0);
    });
    it(`${c.name}: pixel_values`, async () => {
      const img = await readPng(path.join(caseDir(c.name), 'image.png'));
      const out = preprocess(vit, img);
      const golden = readF32(path.join(caseDir(c.name), 'pixel_values.bin'));
      expect(maxAbsDiff(out.data, golden)).toBe(0);
    });
  }
});

describe('image processor details', () => {
  it('reads old CLIPFeatureExtractor configs the same way', () => {
    const p = parseImageProcessor({ feature_extractor_type: 'CLIPFeatureExtractor', size: 224, crop_size: 224, resample: 3 });
    expect(p).toMatchObject({ kind: 'clip', resize: { shortestEdge: 224 }, crop: { width: 224, height: 224 }, filter: 'bicubic' });
  });
  it('truncates the long side like int()', () => {
    const p = parseImageProcessor({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 224 } });
    expect(resizedSize(p, 128, 96)).toEqual({ width: 298, height: 224 });
    expect(resizedSize(p, 224, 331)).toEqual({ width: 224, height: 331 });
  });
  it('rejects unknown processors', () => {
    expect(() => parseImageProcessor({ image_processor_type: 'DetrImageProcessor' })).toThrow(/unsupported image processor/);
  });
  it('zero-pads a crop larger than the image', () => {
    const img = { width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]) };
    const { image } = centerCrop(img, 4, 3);
    // row 1 (middle), columns 1..2 hold the image
    expect(Array.from(image.data.slice(12, 24))).toEqual([0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0]);
    expect(image.data.slice(0, 12).every((v) => v === 0)).toBe(true);
  });
  it('returns an unfiltered copy when the size is unchanged', () => {
    const img = { width: 2, height: 2, data: new Uint8Array([0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255]) };
    const out = pilResize(img, 2, 2, 'bicubic');
    expect(out.data).toEqual(img.data);
    expect(out.data).not.toBe(img.data);
  });
});

describe('PIL resampler properties (filters without goldens)', () => {
  function noise(w: number, h: number, seed = 1): { width: number; height: number; data: Uint8Array } {
    let s = seed;
    const data = new Uint8Array(w * h * 3).map(() => ((s = (s * 1103515245 + 12345) >>> 0), s >>> 24));
    return { width: w, height: h, data };
  }

  it('box 2x downscale is the rounded 2x2 mean', () => {
    const img = noise(8, 6);
    const out = pilResize(img, 4, 3, 'box');
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 4; x++)
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xx: number) => img.data[(yy * 8 + xx) * 3 + c]!;
          // Separable with a uint8 intermediate: row pairs first, rounded, then column pairs.
          const h0 = Math.floor((at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + 1) / 2);
          const h1 = Math.floor((at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1) + 1) / 2);
          expect(out.data[(y * 4 + x) * 3 + c]).toBe(Math.floor((h0 + h1 + 1) / 2));
        }
  });

  it.each(['bicubic', 'bilinear', 'lanczos', 'hamming', 'box', 'nearest'] as const)('%s keeps a flat image flat, up and down', (f) => {
    const flat = { width: 13, height: 7, data: new Uint8Array(13 * 7 * 3).fill(201) };
    for (const [w, h] of [[40, 21], [5, 3], [13, 30]]) {
      const out = pilResize(flat, w!, h!, f);
      expect(out).toMatchObject({ width: w, height: h });
      expect(out.data.every((v) => v === 201)).toBe(true);
    }
  });

  it('nearest picks pixel centres', () => {
    const img = { width: 4, height: 1, data: new Uint8Array([0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30]) };
    expect(Array.from(pilResize(img, 2, 1, 'nearest').data)).toEqual([10, 10, 10, 30, 30, 30]);
  });
});

describe('DeiT-style processors', () => {
  it('resize to height x width, then centre crop when do_center_crop is set', () => {
    const p = parseImageProcessor({ image_processor_type: 'DeiTImageProcessor', size: { height: 256, width: 256 }, do_center_crop: true, crop_size: { height: 224, width: 224 }, resample: 3 });
    expect(p).toMatchObject({ kind: 'vit', resize: { height: 256, width: 256 }, crop: { height: 224, width: 224 }, filter: 'bicubic' });
    const img = { width: 300, height: 200, data: new Uint8Array(300 * 200 * 3).fill(128) };
    const out = preprocess(p, img);
    expect([out.width, out.height, out.data.length]).toEqual([224, 224, 3 * 224 * 224]);
  });
});
