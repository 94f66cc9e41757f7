// safetensors reader: 8-byte little-endian header length, JSON header, then raw tensor bytes.
// Tensors are read one at a time at their offsets (never the whole file), so LoRAs and
// checkpoints larger than 2 GiB work and memory stays at one tensor.
import { open, type FileHandle } from 'node:fs/promises';
import { NodeError } from '../engine/errors.js';
import { f16ToF32, bf16ToF32 } from './half.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the tensor data in the file. */
  offset: number;
  byteLength: number;
}

/** Headers bigger than this are not LoRAs or embeddings we can use (and guard against hostile files). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function bad(file: string, why: string): NodeError {
  return new NodeError('invalid_safetensors', `${file} is not a valid safetensors file: ${why}`, { file });
}

/** Parses and validates a header; `fileSize` bounds the data offsets. Exported for in-memory use. */
export function parseSafetensorsHeader(
  file: string,
  headerBytes: Uint8Array,
  dataStart: number,
  fileSize: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw bad(file, `header is not JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad(file, 'header is not a JSON object');
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const dataSize = fileSize - dataStart;
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw && typeof raw === 'object' && !Array.isArray(raw)) metadata = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!t || typeof t !== 'object') throw bad(file, `entry "${name}" is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_BYTES)) throw bad(file, `tensor "${name}" has unsupported dtype ${JSON.stringify(t.dtype)}`);
    const dtype = t.dtype as SafetensorsDtype;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(file, `tensor "${name}" has an invalid shape`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0])
      throw bad(file, `tensor "${name}" has invalid data_offsets`);
    const shape = t.shape as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    const byteLength = off[1] - off[0];
    if (byteLength !== count * DTYPE_BYTES[dtype])
      throw bad(file, `tensor "${name}" has ${byteLength} bytes but ${dtype}${JSON.stringify(shape)} needs ${count * DTYPE_BYTES[dtype]}`);
    if (off[1] > dataSize) throw bad(file, `tensor "${name}" ends at byte ${off[1]} beyond the data (${dataSize} bytes; truncated file?)`);
    tensors.set(name, { name, dtype, shape, offset: dataStart + off[0], byteLength });
  }
  // Overlapping tensors are a sign of a crafted or corrupted file.
  const sorted = [...tensors.values()].filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (sorted[i]!.offset < prev.offset + prev.byteLength) throw bad(file, `tensors "${prev.name}" and "${sorted[i]!.name}" overlap`);
  }
  return { tensors, metadata };
}

/** An open safetensors file. Call close() when done. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
    readonly size: number,
  ) {}

  static async open(path: string, displayName = path): Promise<SafetensorsFile> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size < 8) throw bad(displayName, `file is ${size} bytes long`);
      const lenBuf = Buffer.alloc(8);
      await fh.read(lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size)
        throw bad(displayName, `header length ${headerLen} does not fit a ${size}-byte file`);
      const header = Buffer.alloc(headerLen);
      await fh.read(header, 0, headerLen, 8);
      const { tensors, metadata } = parseSafetensorsHeader(displayName, header, 8 + headerLen, size);
      return new SafetensorsFile(path, fh, tensors, metadata, size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new NodeError('invalid_safetensors', `tensor "${name}" not found in ${this.path}`);
    return t;
  }

  /** Raw bytes of one tensor (its stored dtype). */
  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    const buf = new Uint8Array(t.byteLength);
    let done = 0;
    // fh.read caps a single read at 2 GiB; loop so any tensor size works.
    while (done < t.byteLength) {
      const { bytesRead } = await this.fh.read(buf, done, Math.min(t.byteLength - done, 1 << 30), t.offset + done);
      if (bytesRead === 0) throw bad(this.path, `unexpected end of file in tensor "${name}"`);
      done += bytesRead;
    }
    return buf;
  }

  /** One tensor converted to float32 (F32, F16, BF16, F64 and integer types). */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    return toFloat32(await this.readRaw(name), t.dtype);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Converts little-endian tensor bytes of a safetensors dtype to float32. */
export function toFloat32(raw: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = raw[i]!;
      break;
  }
  return out;
}

/**
 * The header block of a safetensors file (length prefix + JSON padded to 8 bytes) for tensors
 * laid out back to back in the given order; the data follows it. For writers that stream the
 * data (a 7 GB random checkpoint in the bench) and for encodeSafetensors.
 */
export function encodeSafetensorsHeader(
  tensors: Iterable<[string, { dtype: string; shape: number[]; byteLength: number }]>,
  metadata?: Record<string, string>,
): { head: Uint8Array; dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.byteLength] };
    off += t.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so tensor data starts 8-byte aligned, as the reference writer does.
  const pad = (8 - (json.byteLength % 8)) % 8;
  const head = new Uint8Array(8 + json.byteLength + pad).fill(0x20, 8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.byteLength + pad), true);
  head.set(json, 8);
  return { head, dataBytes: off };
}

/** Writes a safetensors file image (tests, the bench and fixtures of other formats use it). */
export function encodeSafetensors(
  tensors: Record<string, { dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; data: Float32Array | Uint16Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = Object.entries(tensors).map(([name, t]) => [name, { ...t, byteLength: t.data.byteLength }] as [string, typeof t & { byteLength: number }]);
  const { head, dataBytes } = encodeSafetensorsHeader(entries, metadata);
  const out = new Uint8Array(head.byteLength + dataBytes);
  out.set(head);
  let p = head.byteLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}
