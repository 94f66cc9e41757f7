// Builds ORT input tensors in whatever dtype/shape a session declares and reads
// outputs back as float32, so fp16 exports and int32/int64 or float timesteps work
// without the callers knowing. Node 20 has no Float16Array: fp16 data is Uint16Array.
import ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';

export type ValueMetadata = InferenceSession.ValueMetadata;

export interface TensorMetadata {
  name: string;
  type: string;
  /** Numbers for fixed dims, strings for symbolic ones. */
  shape: ReadonlyArray<number | string>;
}

export function inputMeta(session: InferenceSession, name: string): TensorMetadata {
  const i = session.inputNames.indexOf(name);
  if (i < 0) throw new Error(`model has no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
  const m = session.inputMetadata[i] as ValueMetadata & Partial<TensorMetadata>;
  if (!m.isTensor || !m.type) throw new Error(`input "${name}" is not a tensor`);
  return { name, type: m.type, shape: m.shape ?? [] };
}

export function hasInput(session: InferenceSession, name: string): boolean {
  return session.inputNames.includes(name);
}

// --- float16 <-> float32 (round to nearest even, like numpy/torch .half()) ---
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && half & 1) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // Rounding may carry into the exponent; that is still the correct result (up to inf).
  return sign | (rem > 0x1000 || (rem === 0x1000 && half & 1) ? half + 1 : half);
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = toHalf(src[i]!);
  return out;
}

export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = fromHalf(src[i]!);
  return out;
}

/** A float tensor in the dtype the model declares for `name`. */
export function floatInput(meta: TensorMetadata, data: Float32Array, dims: readonly number[]): Tensor {
  switch (meta.type) {
    case 'float32':
      return new ort.Tensor('float32', data, dims);
    case 'float16':
      return new ort.Tensor('float16', f32ToF16(data), dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(data), dims);
    default:
      throw new Error(`input "${meta.name}" has unsupported type ${meta.type} (expected a float type)`);
  }
}

/** Integer-valued data (ids, timesteps) in the declared type, integer or float. */
export function numericInput(meta: TensorMetadata, values: ArrayLike<number>, dims: readonly number[]): Tensor {
  switch (meta.type) {
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v)))), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values, (v) => Math.trunc(v)), dims);
    case 'float32':
    case 'float16':
    case 'float64':
      return floatInput(meta, Float32Array.from(values), dims);
    default:
      throw new Error(`input "${meta.name}" has unsupported type ${meta.type}`);
  }
}

/** Output as float32 whatever its float type. */
export function outputF32(t: Tensor | undefined, name: string): Float32Array {
  if (!t) throw new Error(`model produced no output "${name}"`);
  switch (t.type) {
    case 'float32':
      return t.data as Float32Array;
    case 'float16':
      return f16ToF32(t.data as Uint16Array);
    case 'float64':
      return Float32Array.from(t.data as Float64Array);
    default:
      throw new Error(`output "${name}" has unsupported type ${t.type}`);
  }
}

/**
 * Timestep tensor: the declared shape decides scalar, [1] (broadcast by the graph)
 * or [batch]; the declared type decides int64/int32/float.
 */
export function timestepInput(meta: TensorMetadata, t: number, batch: number): Tensor {
  if (meta.shape.length === 0) return numericInput(meta, [t], []);
  const n = meta.shape[0] === 1 ? 1 : batch;
  return numericInput(meta, new Array<number>(n).fill(t), [n]);
}
