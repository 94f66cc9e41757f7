// Reads the fixtures' raw tensors (little-endian, C order, dtype/shape from the JSON next to them).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const MODELS_DIR = path.join(FIXTURES, 'models');
export const GOLDENS = path.join(FIXTURES, 'goldens');

export interface TensorSpec {
  file: string;
  dtype: string;
  shape: number[];
}

export function readTensor(dir: string, spec: TensorSpec): Float32Array | Int32Array | BigInt64Array {
  const buf = readFileSync(path.join(dir, spec.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (spec.dtype) {
    case 'float32':
      return new Float32Array(ab);
    case 'int32':
      return new Int32Array(ab);
    case 'int64':
      return new BigInt64Array(ab);
    default:
      throw new Error(`unsupported dtype ${spec.dtype}`);
  }
}

export function readF32(file: string): Float32Array {
  const buf = readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
