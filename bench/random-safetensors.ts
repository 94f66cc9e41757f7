// A safetensors file of Normal(0, 0.02)-ish random weights for the benches, streamed to disk
// from a small cyclic pool (a full-size SDXL file is 7 GB and is never held in memory).
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { f32ToF16 } from '../server/models/half.js';
import { encodeSafetensorsHeader } from '../server/models/safetensors.js';

/** Writes the tensors of `layout` (sorted by name) as F32 or F16; returns the file's byte count. */
export async function writeRandomSafetensors(file: string, layout: Iterable<[string, number[]]>, dtype: 'F32' | 'F16'): Promise<number> {
  const width = dtype === 'F32' ? 4 : 2;
  const sorted = [...layout].sort(([a], [b]) => (a < b ? -1 : 1));
  const { head, dataBytes } = encodeSafetensorsHeader(sorted.map(([name, shape]) => [name, { dtype, shape, byteLength: shape.reduce((a, b) => a * b, 1) * width }]));
  // Box-Muller draws, reused cyclically.
  const pool = dtype === 'F32' ? new Float32Array(4 * 2 ** 20) : new Uint16Array(16 * 2 ** 20);
  for (let i = 0; i < pool.length; i++) {
    const v = 0.02 * Math.sqrt(-2 * Math.log(Math.random() || 1e-9)) * Math.cos(2 * Math.PI * Math.random());
    pool[i] = dtype === 'F32' ? v : f32ToF16(v);
  }
  const bytes = Buffer.from(pool.buffer);
  mkdirSync(path.dirname(file), { recursive: true });
  const fh = await open(file, 'w');
  try {
    await fh.write(head);
    for (let left = dataBytes; left > 0; ) {
      const n = Math.min(left, bytes.length);
      await fh.write(bytes, 0, n);
      left -= n;
    }
  } finally {
    await fh.close();
  }
  return head.byteLength + dataBytes;
}
