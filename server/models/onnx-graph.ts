// Reads the parts of an ONNX model that weight patching needs (nodes, initializers and
// where their bytes live) straight from the protobuf wire format, keeping byte ranges so
// onnx-patch.ts can copy everything it does not change verbatim.
// Field numbers are from onnx.proto (ModelProto.graph = 7; GraphProto.node = 1,
// initializer = 5; NodeProto.input = 1, output = 2, name = 3, op_type = 4, attribute = 5;
// TensorProto.dims = 1, data_type = 2, float_data = 4, int32_data = 5, name = 8,
// raw_data = 9, external_data = 13, data_location = 14).
import { readFile, open } from 'node:fs/promises';
import path from 'node:path';
import { fields, pushInts, str, WIRE_I32, WIRE_LEN, type Field } from './protobuf.js';
import { f16ToF32, bf16ToF32, f32BitsToF16, f32ToBf16 } from './half.js';

export const DT_FLOAT = 1;
export const DT_FLOAT16 = 10;
export const DT_DOUBLE = 11;
export const DT_BFLOAT16 = 16;

export interface OnnxAttribute {
  name: string;
  i?: number;
  /** FLOAT attribute (field 2, fixed32). */
  f?: number;
  ints?: number[];
  /** TENSOR attribute (a Constant's `value`): byte range of its TensorProto payload in the model buffer. */
  t?: { start: number; end: number };
}

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  dataType: number;
  /** Byte range of the whole `initializer` field (tag included) inside the model buffer. */
  fieldStart: number;
  fieldEnd: number;
  /** Where the values are: raw_data, float_data / int32_data (packed or not), or an external file. */
  raw?: { start: number; end: number };
  typed?: Field[];
  external?: { location: string; offset: number; length?: number };
}

export interface OnnxModel {
  /** The .onnx bytes (its graph structure; big weights may live in external files). */
  bytes: Uint8Array;
  /** Folder external data locations are relative to. */
  dir: string;
  /** Range of the ModelProto.graph field (tag included) and of its payload. */
  graphField: { start: number; end: number; payloadStart: number; payloadEnd: number };
  nodes: OnnxNode[];
  initializers: Map<string, OnnxInitializer>;
  /** Node producing each value name (to follow Identity / Cast / Transpose chains). */
  producers: Map<string, OnnxNode>;
}

export class OnnxFormatError extends Error {}

export async function loadOnnxModel(file: string): Promise<OnnxModel> {
  const bytes = new Uint8Array(await readFile(file));
  return parseOnnxModel(bytes, path.dirname(file));
}

export function parseOnnxModel(bytes: Uint8Array, dir: string): OnnxModel {
  let graphField: OnnxModel['graphField'] | undefined;
  for (const f of fields(bytes)) {
    if (f.field === 7 && f.wire === WIRE_LEN) graphField = { start: f.start, end: f.end, payloadStart: f.payloadStart, payloadEnd: f.payloadEnd };
  }
  if (!graphField) throw new OnnxFormatError('no graph in the ONNX model');
  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxInitializer>();
  for (const f of fields(bytes, graphField.payloadStart, graphField.payloadEnd)) {
    if (f.wire !== WIRE_LEN) continue;
    if (f.field === 1) nodes.push(parseNode(bytes, f));
    else if (f.field === 5) {
      const t = parseTensor(bytes, f);
      initializers.set(t.name, t);
    }
  }
  const producers = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.outputs) producers.set(o, n);
  return { bytes, dir, graphField, nodes, initializers, producers };
}

function parseNode(buf: Uint8Array, nf: Field): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', inputs: [], outputs: [], attributes: [] };
  for (const f of fields(buf, nf.payloadStart, nf.payloadEnd)) {
    if (f.field === 1) node.inputs.push(str(buf, f));
    else if (f.field === 2) node.outputs.push(str(buf, f));
    else if (f.field === 3) node.name = str(buf, f);
    else if (f.field === 4) node.opType = str(buf, f);
    else if (f.field === 5 && f.wire === WIRE_LEN) node.attributes.push(parseAttribute(buf, f));
  }
  return node;
}

function parseAttribute(buf: Uint8Array, af: Field): OnnxAttribute {
  const a: OnnxAttribute = { name: '' };
  for (const f of fields(buf, af.payloadStart, af.payloadEnd)) {
    if (f.field === 1) a.name = str(buf, f);
    else if (f.field === 2 && f.wire === WIRE_I32) a.f = new DataView(buf.buffer, buf.byteOffset + f.payloadStart, 4).getFloat32(0, true);
    else if (f.field === 3) a.i = f.value;
    else if (f.field === 5 && f.wire === WIRE_LEN) a.t = { start: f.payloadStart, end: f.payloadEnd };
    else if (f.field === 8) pushInts(buf, f, (a.ints ??= []));
  }
  return a;
}

function parseTensor(buf: Uint8Array, tf: Field): OnnxInitializer {
  const t: OnnxInitializer = { name: '', dims: [], dataType: 0, fieldStart: tf.start, fieldEnd: tf.end };
  const ext: Record<string, string> = {};
  let location = 0;
  for (const f of fields(buf, tf.payloadStart, tf.payloadEnd)) {
    switch (f.field) {
      case 1:
        pushInts(buf, f, t.dims);
        break;
      case 2:
        t.dataType = f.value;
        break;
      case 4: // float_data
      case 5: // int32_data (float16 / bfloat16 when not raw)
      case 10: // double_data
        (t.typed ??= []).push(f);
        break;
      case 8:
        t.name = str(buf, f);
        break;
      case 9:
        t.raw = { start: f.payloadStart, end: f.payloadEnd };
        break;
      case 13: {
        let k = '';
        let v = '';
        for (const e of fields(buf, f.payloadStart, f.payloadEnd)) {
          if (e.field === 1) k = str(buf, e);
          else if (e.field === 2) v = str(buf, e);
        }
        ext[k] = v;
        break;
      }
      case 14:
        location = f.value;
        break;
    }
  }
  if (location === 1) {
    if (!ext.location) throw new OnnxFormatError(`initializer ${t.name} is external without a location`);
    t.external = { location: ext.location, offset: Number(ext.offset ?? 0), length: ext.length !== undefined ? Number(ext.length) : undefined };
  }
  return t;
}

export function elementCount(t: { dims: number[] }): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

export function bytesPerElement(dataType: number): number {
  switch (dataType) {
    case DT_FLOAT:
      return 4;
    case DT_FLOAT16:
    case DT_BFLOAT16:
      return 2;
    case DT_DOUBLE:
      return 8;
    default:
      throw new OnnxFormatError(`unsupported initializer data type ${dataType} (only float types can be patched)`);
  }
}

/** The initializer's little-endian bytes in its own data type (reads external files at their offset). */
export async function readInitializerBytes(model: OnnxModel, t: OnnxInitializer): Promise<Uint8Array> {
  const n = elementCount(t);
  const size = n * bytesPerElement(t.dataType);
  if (t.raw) return model.bytes.subarray(t.raw.start, t.raw.end);
  if (t.external) {
    const file = path.resolve(model.dir, t.external.location);
    if (!file.startsWith(path.resolve(model.dir) + path.sep)) throw new OnnxFormatError(`external data of ${t.name} points outside the model folder`);
    const fh = await open(file, 'r');
    try {
      const out = new Uint8Array(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await fh.read(out, done, Math.min(size - done, 1 << 30), t.external.offset + done);
        if (!bytesRead) throw new OnnxFormatError(`external data of ${t.name} is truncated`);
        done += bytesRead;
      }
      return out;
    } finally {
      await fh.close();
    }
  }
  // Typed fields: float_data is packed float32, int32_data carries fp16/bf16 bit patterns, double_data float64.
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let i = 0;
  for (const f of t.typed ?? []) {
    const src = new DataView(model.bytes.buffer, model.bytes.byteOffset);
    if (t.dataType === DT_FLOAT && f.field === 4) {
      for (let p = f.payloadStart; p + 4 <= f.payloadEnd; p += 4) dv.setFloat32(4 * i++, src.getFloat32(p, true), true);
    } else if (t.dataType === DT_DOUBLE && f.field === 10) {
      for (let p = f.payloadStart; p + 8 <= f.payloadEnd; p += 8) dv.setFloat64(8 * i++, src.getFloat64(p, true), true);
    } else if ((t.dataType === DT_FLOAT16 || t.dataType === DT_BFLOAT16) && f.field === 5) {
      const vals: number[] = [];
      pushInts(model.bytes, f, vals);
      for (const v of vals) dv.setUint16(2 * i++, v & 0xffff, true);
    }
  }
  if (i !== n) throw new OnnxFormatError(`initializer ${t.name} holds ${i} values, dims say ${n}`);
  return out;
}

/** Decodes initializer bytes to float32. */
export function decodeFloat32(bytes: Uint8Array, dataType: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / bytesPerElement(dataType);
  const out = new Float32Array(n);
  if (dataType === DT_FLOAT) {
    if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
    else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  } else if (dataType === DT_FLOAT16) for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  else if (dataType === DT_BFLOAT16) for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(2 * i, true));
  else for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
  return out;
}

export async function readInitializerFloat32(model: OnnxModel, name: string): Promise<Float32Array> {
  const t = model.initializers.get(name);
  if (!t) throw new OnnxFormatError(`no initializer named ${name}`);
  return decodeFloat32(await readInitializerBytes(model, t), t.dataType);
}

/** Encodes float32 values as initializer bytes of a float data type. */
export function encodeFloat32(values: Float32Array, dataType: number): Uint8Array {
  switch (dataType) {
    case DT_FLOAT:
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case DT_FLOAT16:
    case DT_BFLOAT16: {
      const out = new Uint16Array(values.length);
      const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
      if (dataType === DT_FLOAT16) for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16(bits[i]!);
      else for (let i = 0; i < values.length; i++) out[i] = f32ToBf16(values[i]!);
      return new Uint8Array(out.buffer);
    }
    case DT_DOUBLE:
      return new Uint8Array(Float64Array.from(values).buffer);
    default:
      throw new Error(`cannot encode data type ${dataType}`);
  }
}
