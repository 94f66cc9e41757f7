/**
 * torch-compatible CPU random normals: `new TorchGenerator(seed).randn(shape)` returns the same
 * float32 values, bit for bit, as `torch.randn(shape, generator=torch.Generator().manual_seed(seed))`
 * (or `torch.manual_seed(seed); torch.randn(shape)`) on an x86-64 CPU with AVX2 — so a seed gives the
 * same initial noise, and the same image, as diffusers / ComfyUI on CPU.
 *
 * API (stable):
 *   const g = new TorchGenerator(seed);   // number | bigint; only the low 32 bits seed mt19937
 *   g.randn([1, 4, 128, 128])             // Float32Array, C order; state carries over between calls
 *   g.clone()                             // independent copy of the full state
 *
 * How torch does it (ATen, checked against test/fixtures/seeds for torch 1.13):
 *  - Engine: mt19937 seeded with `seed & 0xffffffff`; `random()` = one 32-bit output,
 *    `random64()` = (first << 32) | second.
 *  - numel >= 16 (`normal_fill` / `normal_fill_AVX2`): draw numel float uniforms
 *    `(random() & 0xffffff) * 2^-24`, then Box–Muller in blocks of 16: for j < 8, u1 = 1 - d[j],
 *    u2 = d[j+8]; d[j] = sqrt(-2 ln u1)·cos(2π u2), d[j+8] = …·sin(…). If numel % 16 != 0 the LAST 16
 *    slots are refilled with 16 fresh uniforms and transformed again (overlapping the previous block).
 *    On AVX2 CPUs ln/sin/cos are avx_mathfun's float32 Cephes polynomials, compiled with FMA
 *    contraction: this file reproduces those exact float operations (Math.fround + an exact fused
 *    multiply-add). Non-AVX2 builds (e.g. ARM) use libm instead and differ in the last bits.
 *  - numel < 16 (scalar `normal_distribution<double>`): u1, u2 = `(random64() & (2^53-1)) * 2^-53`,
 *    r = sqrt(-2 log1p(-u2)), θ = 2π u1; returns r·cos θ and CACHES r·sin θ for the next scalar draw
 *    (the cache survives calls of ≥ 16 elements, which do not use it). Computed in float64 and cast.
 */
import { fmaf } from './float32-math.js';

const f32 = Math.fround;
const N = 624;
const TWO_POW_24 = 16777216;
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

// Scratch views for float32 bit manipulation.
const fbuf = new Float32Array(1);
const ibuf = new Int32Array(fbuf.buffer);

// avx_mathfun constants, as float32.
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f32);
const LOG_Q1 = f32(-2.1219444e-4);
const LOG_Q2 = f32(0.693359375);
const SQRTHF = f32(0.707106781186547524);
const DP1 = f32(-0.78515625);
const DP2 = f32(-2.4187564849853515625e-4);
const DP3 = f32(-3.77489497744594108e-8);
const SIN_P0 = f32(-1.9515295891e-4);
const SIN_P1 = f32(8.3321608736e-3);
const SIN_P2 = f32(-1.6666654611e-1);
const COS_P0 = f32(2.443315711809948e-5);
const COS_P1 = f32(-1.388731625493765e-3);
const COS_P2 = f32(4.166664568298827e-2);
const FOPI = f32(1.27323954473516);
const TWO_PI_F = f32(2 * Math.PI);

/** avx_mathfun `log256_ps` for one lane, x in (0, 1]. */
function logAvx(x: number): number {
  fbuf[0] = x;
  const bits = ibuf[0];
  let e = f32((bits >>> 23) - 0x7f + 1);
  ibuf[0] = (bits & ~0x7f800000) | 0x3f000000; // mantissa in [0.5, 1)
  let m = fbuf[0];
  if (m < SQRTHF) {
    e = f32(e - 1);
    m = f32(f32(m - 1) + m);
  } else {
    m = f32(m - 1);
  }
  const z = f32(m * m);
  let y = LOG_P[0];
  for (let k = 1; k < 9; k++) y = fmaf(y, m, LOG_P[k]);
  y = f32(y * m);
  y = fmaf(y, z, f32(e * LOG_Q1));
  y = fmaf(z, -0.5, y);
  return fmaf(e, LOG_Q2, f32(m + y));
}

/**
 * One Box–Muller pair on the AVX2 path: writes radius·cos θ to out[i] and radius·sin θ to out[k].
 * θ = 2π·u2 is in [0, 2π), so only the sign logic of `sincos256_ps` for non-negative x is needed.
 */
function boxMullerAvx(out: Float32Array, i: number, k: number, u1: number, u2: number): void {
  const radius = f32(Math.sqrt(f32(-2 * logAvx(u1))));
  let x = f32(TWO_PI_F * u2);
  const j = (Math.trunc(f32(x * FOPI)) + 1) & ~1;
  const y = j;
  x = fmaf(y, DP1, x);
  x = fmaf(y, DP2, x);
  x = fmaf(y, DP3, x);
  const z = f32(x * x);
  let yc = fmaf(COS_P0, z, COS_P1);
  yc = fmaf(yc, z, COS_P2);
  yc = f32(yc * z);
  yc = f32(fmaf(yc, z, -f32(z * 0.5)) + 1);
  let ys = fmaf(SIN_P0, z, SIN_P1);
  ys = fmaf(ys, z, SIN_P2);
  ys = f32(ys * z);
  ys = fmaf(ys, x, x);
  const polyCos = (j & 2) === 0; // first polynomial is the cosine
  let s = polyCos ? ys : yc;
  let c = polyCos ? yc : ys;
  if (j & 4) s = -s;
  if (~(j - 2) & 4) c = -c;
  // `+ 0`: the kernel ends with fmadd(n, std=1, mean=0), which turns -0 into +0.
  out[i] = f32(radius * c) + 0;
  out[k] = f32(radius * s) + 0;
}

export class TorchGenerator {
  private readonly mt = new Uint32Array(N);
  private index = N;
  /** torch's `next_double_normal_sample`: the sine half of the last scalar Box–Muller pair. */
  private cachedNormal: number | undefined;

  constructor(seed: number | bigint) {
    let s: bigint;
    if (typeof seed === 'bigint') s = seed;
    else if (Number.isSafeInteger(seed)) s = BigInt(seed);
    else throw new RangeError(`seed must be an integer, got ${seed}`);
    const mt = this.mt;
    mt[0] = Number(BigInt.asUintN(32, s));
    for (let j = 1; j < N; j++) {
      const p = mt[j - 1] ^ (mt[j - 1] >>> 30);
      mt[j] = (Math.imul(1812433253, p) + j) >>> 0;
    }
  }

  clone(): TorchGenerator {
    const g = new TorchGenerator(0);
    g.mt.set(this.mt);
    g.index = this.index;
    g.cachedNormal = this.cachedNormal;
    return g;
  }

  /** Next 32-bit mt19937 output. */
  random(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Standard normal float32 samples of `shape`, exactly as torch.randn on CPU (see module doc). */
  randn(shape: readonly number[]): Float32Array {
    let n = 1;
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid randn shape [${shape.join(', ')}]`);
      n *= d;
    }
    const out = new Float32Array(n);
    if (n >= 16) this.fillVectorised(out);
    else for (let i = 0; i < n; i++) out[i] = this.scalarNormal();
    return out;
  }

  private fillVectorised(out: Float32Array): void {
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = (this.random() & 0xffffff) / TWO_POW_24;
    for (let i = 0; i + 16 <= n; i += 16) this.transform16(out, i);
    if (n % 16 !== 0) {
      const o = n - 16;
      for (let i = 0; i < 16; i++) out[o + i] = (this.random() & 0xffffff) / TWO_POW_24;
      this.transform16(out, o);
    }
  }

  private transform16(out: Float32Array, o: number): void {
    for (let j = 0; j < 8; j++) boxMullerAvx(out, o + j, o + j + 8, f32(1 - out[o + j]), out[o + j + 8]);
  }

  private uniform53(): number {
    const hi = this.random();
    const lo = this.random();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) / TWO_POW_53;
  }

  private scalarNormal(): number {
    if (this.cachedNormal !== undefined) {
      const v = this.cachedNormal;
      this.cachedNormal = undefined;
      return v;
    }
    const u1 = this.uniform53();
    const u2 = this.uniform53();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  private twist(): void {
    const mt = this.mt;
    for (let k = 0; k < N; k++) {
      const y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
      mt[k] = mt[(k + 397) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}
