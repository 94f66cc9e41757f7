// A port of Pillow's Image.resize for 8-bit RGB (libImaging/Resample.c, Pillow 9.x, reducing_gap=None).
// Safety checkers were trained and calibrated on images that went through exactly this resampler
// (transformers' image processors call PIL), so near-threshold decisions only agree with Python
// when the resize is bit-exact: separable passes with a uint8 intermediate, antialiasing support
// widened by the scale, and 22-bit fixed-point coefficients.
import type { RgbImage } from '../image/types.js';

/** PIL resample ids as transformers' preprocessor configs store them (`"resample": 3`). */
export const PIL_FILTERS = { nearest: 0, lanczos: 1, bilinear: 2, bicubic: 3, box: 4, hamming: 5 } as const;
export type PilFilter = keyof typeof PIL_FILTERS;

export function pilFilterFromId(id: number): PilFilter {
  const name = (Object.keys(PIL_FILTERS) as PilFilter[]).find((k) => PIL_FILTERS[k] === id);
  if (!name) throw new Error(`unknown PIL resample id ${id} (expected 0..5)`);
  return name;
}

interface Kernel {
  support: number;
  fn(x: number): number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

// Same expressions (and evaluation order) as Resample.c, so the double weights match.
const KERNELS: Record<Exclude<PilFilter, 'nearest'>, Kernel> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
  hamming: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (0.54 + 0.46 * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coeffs {
  /** First input index per output index. */
  bounds: Int32Array;
  /** Number of taps per output index. */
  counts: Int32Array;
  /** Fixed-point weights, `ksize` per output index. */
  weights: Int32Array;
  ksize: number;
}

/** precompute_coeffs + normalize_coeffs_8bpc for one axis. */
function computeCoeffs(inSize: number, outSize: number, kernel: Kernel): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = kernel.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const ss = 1 / filterscale;
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let ww = 0;
    // C's (int) truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    for (let x = 0; x < xmax; x++) {
      const v = kernel.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x]! / ww : w[x]!;
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx] = xmin;
    counts[xx] = xmax;
  }
  return { bounds, counts, weights, ksize };
}

function clip8(acc: number): number {
  if (acc >= ONE * 256) return 255;
  if (acc <= 0) return 0;
  return Math.floor(acc / ONE);
}

function resampleHorizontal(src: RgbImage, outW: number, kernel: Kernel): RgbImage {
  const { width: inW, height } = src;
  const c = computeCoeffs(inW, outW, kernel);
  const out = new Uint8Array(outW * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * inW * 3;
    const orow = y * outW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = c.bounds[xx]!;
      const n = c.counts[xx]!;
      const k0 = xx * c.ksize;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let x = 0; x < n; x++) {
        const k = c.weights[k0 + x]!;
        const p = row + (xmin + x) * 3;
        r += src.data[p]! * k;
        g += src.data[p + 1]! * k;
        b += src.data[p + 2]! * k;
      }
      const o = orow + xx * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width: outW, height, data: out };
}

function resampleVertical(src: RgbImage, outH: number, kernel: Kernel): RgbImage {
  const { width, height: inH } = src;
  const c = computeCoeffs(inH, outH, kernel);
  const out = new Uint8Array(width * outH * 3);
  const stride = width * 3;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = c.bounds[yy]!;
    const n = c.counts[yy]!;
    const k0 = yy * c.ksize;
    const orow = yy * stride;
    for (let i = 0; i < stride; i++) {
      let acc = HALF;
      for (let y = 0; y < n; y++) acc += src.data[(ymin + y) * stride + i]! * c.weights[k0 + y]!;
      out[orow + i] = clip8(acc);
    }
  }
  return { width, height: outH, data: out };
}

/** PIL's NEAREST path is an affine transform sampling at pixel centres. */
function resizeNearest(src: RgbImage, outW: number, outH: number): RgbImage {
  const out = new Uint8Array(outW * outH * 3);
  const sx = src.width / outW;
  const sy = src.height / outH;
  for (let y = 0; y < outH; y++) {
    const iy = Math.min(src.height - 1, Math.floor((y + 0.5) * sy));
    for (let x = 0; x < outW; x++) {
      const ix = Math.min(src.width - 1, Math.floor((x + 0.5) * sx));
      const s = (iy * src.width + ix) * 3;
      const o = (y * outW + x) * 3;
      out[o] = src.data[s]!;
      out[o + 1] = src.data[s + 1]!;
      out[o + 2] = src.data[s + 2]!;
    }
  }
  return { width: outW, height: outH, data: out };
}

/**
 * `Image.resize((width, height), filter)` on an RGB image. Same size returns a copy without
 * filtering, as PIL does; otherwise a horizontal pass (if the width changes) then a vertical one.
 */
export function pilResize(src: RgbImage, width: number, height: number, filter: PilFilter): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`invalid resize target ${width}x${height}`);
  }
  if (src.data.length !== src.width * src.height * 3) throw new Error('image data length does not match width*height*3');
  if (width === src.width && height === src.height) return { width, height, data: src.data.slice() };
  if (filter === 'nearest') return resizeNearest(src, width, height);
  const kernel = KERNELS[filter];
  let img = src;
  if (width !== src.width) img = resampleHorizontal(img, width, kernel);
  if (height !== src.height) img = resampleVertical(img, height, kernel);
  return img;
}
