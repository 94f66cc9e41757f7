// Separable resampling of float planes (masks), Pillow-style: pixel centres aligned,
// and the kernel widened by the scale factor when shrinking so downscaling averages
// instead of aliasing. RGB images are resized with sharp (lanczos3) in resize.ts.

export type Kernel = 'triangle' | 'lanczos3';

const KERNELS: Record<Kernel, { support: number; fn: (x: number) => number }> = {
  triangle: { support: 1, fn: (x) => Math.max(0, 1 - Math.abs(x)) },
  lanczos3: {
    support: 3,
    fn: (x) => {
      x = Math.abs(x);
      if (x < 1e-8) return 1;
      if (x >= 3) return 0;
      const px = Math.PI * x;
      return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
    },
  },
};

interface Weights {
  start: Int32Array;
  count: Int32Array;
  w: Float32Array;
  stride: number;
}

function weights(inSize: number, outSize: number, kernel: Kernel): Weights {
  const { support, fn } = KERNELS[kernel];
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const radius = support * filterScale;
  const stride = Math.ceil(radius) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float32Array(outSize * stride);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - radius));
    const hi = Math.min(inSize, Math.ceil(centre + radius));
    let sum = 0;
    const n = Math.min(hi - lo, stride);
    for (let j = 0; j < n; j++) {
      const v = fn((lo + j + 0.5 - centre) / filterScale);
      w[o * stride + j] = v;
      sum += v;
    }
    if (sum !== 0) for (let j = 0; j < n; j++) w[o * stride + j]! /= sum;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, w, stride };
}

/** Resizes a single-channel float plane to outW x outH. */
export function resamplePlane(
  src: Float32Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
  kernel: Kernel = 'triangle',
): Float32Array {
  if (width === outW && height === outH) return src.slice();
  const wx = weights(width, outW, kernel);
  const wy = weights(height, outH, kernel);
  const tmp = new Float32Array(outW * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < outW; x++) {
      const s = wx.start[x]!;
      const base = x * wx.stride;
      let acc = 0;
      for (let j = 0; j < wx.count[x]!; j++) acc += src[row + s + j]! * wx.w[base + j]!;
      tmp[y * outW + x] = acc;
    }
  }
  const out = new Float32Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const s = wy.start[y]!;
    const base = y * wy.stride;
    const o = y * outW;
    for (let j = 0; j < wy.count[y]!; j++) {
      const wt = wy.w[base + j]!;
      const r = (s + j) * outW;
      for (let x = 0; x < outW; x++) out[o + x]! += tmp[r + x]! * wt;
    }
  }
  return out;
}
