/**
 * float32 arithmetic helpers for reproducing PyTorch CPU kernels bit for bit.
 *   fmaf(a, b, c): correctly rounded float32 fused multiply-add of float32 inputs (what GCC emits for
 *   `a * b + c` in AVX2/FMA kernels), e.g. torch's vectorised randn and linspace.
 */
const f32 = Math.fround;
const fbuf = new Float32Array(1);
const ibuf = new Int32Array(fbuf.buffer);

export function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: two 24-bit significands fit in 53 bits
  const s = p + c;
  const r = f32(s);
  if (r === s) return r;
  // float64 rounding of p + c can only mislead float32 rounding when s lands exactly on a float32
  // midpoint; the exact residual of the sum then decides the direction.
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0 || r === 0) return r;
  fbuf[0] = r;
  ibuf[0] += (r < s) === (r >= 0) ? 1 : -1; // the float32 neighbour on the other side of s
  const other = fbuf[0];
  if ((r + other) / 2 !== s) return r;
  return (err > 0) === (other > r) ? other : r;
}
