// Produces a patched ONNX model: the graph is copied verbatim except the replaced
// initializers. Replaced tensors go inline (raw_data: a self-contained buffer), into
// in-memory "external data" files that ORT's `externalData` session option feeds at session
// creation (no 2 GB protobuf limit, no copy of the merged weights into the protobuf), or
// point at a file the caller already wrote next to the model (`external` replacements).
import { concat, fields, lenField, stringField, varintField, WIRE_LEN } from './protobuf.js';
import type { OnnxModel } from './onnx-graph.js';

export interface TensorReplacement {
  dims: number[];
  dataType: number;
  /** Little-endian values in dataType. */
  data?: Uint8Array;
  /** Or: values already written to an external file next to the model (disk materialisation). */
  external?: { location: string; offset: number; length: number };
}

export interface PatchedModel {
  modelBytes: Uint8Array;
  /**
   * In-memory external files for ORT's `externalData` session option. ORT then requires every
   * external initializer to come from this table, so models whose weights live in files on
   * disk are materialised to a folder instead (see patched-source.ts).
   */
  externalData: { path: string; data: Uint8Array }[];
  /** Bytes held by modelBytes + externalData (for cache accounting). */
  byteLength: number;
}

export interface PatchOptions {
  /** 'external' (default) keeps replaced weights out of the protobuf; 'inline' writes raw_data. */
  mode?: 'inline' | 'external';
  /** Virtual file name prefix of the in-memory external data. */
  prefix?: string;
  /** Maximum bytes per in-memory external file (keeps each Buffer well under Node's limits). */
  chunkBytes?: number;
}

const ALIGN = 64;

export function patchOnnxModel(model: OnnxModel, replacements: Map<string, TensorReplacement>, opts: PatchOptions = {}): PatchedModel {
  const mode = opts.mode ?? 'external';
  const prefix = opts.prefix ?? 'maskflow-patch';
  const chunkBytes = opts.chunkBytes ?? 1 << 30;
  for (const name of replacements.keys()) if (!model.initializers.has(name)) throw new Error(`cannot replace unknown initializer ${name}`);

  // Lay out external chunks first so tensor protos can name their file/offset.
  const files: { path: string; parts: { offset: number; data: Uint8Array }[]; size: number }[] = [];
  const where = new Map<string, { location: string; offset: number }>();
  for (const [name, r] of replacements) {
    if (r.external) where.set(name, { location: r.external.location, offset: r.external.offset });
    else if (!r.data) throw new Error(`replacement for ${name} has neither data nor an external location`);
  }
  if (mode === 'external') {
    for (const [name, r] of replacements) {
      if (!r.data) continue;
      let f = files[files.length - 1];
      if (!f || (f.size > 0 && f.size + r.data.byteLength > chunkBytes)) {
        f = { path: `${prefix}-${files.length}.bin`, parts: [], size: 0 };
        files.push(f);
      }
      where.set(name, { location: f.path, offset: f.size });
      f.parts.push({ offset: f.size, data: r.data });
      f.size += Math.ceil(r.data.byteLength / ALIGN) * ALIGN;
    }
  }

  const { bytes, graphField } = model;
  const byStart = new Map<number, string>();
  for (const name of replacements.keys()) byStart.set(model.initializers.get(name)!.fieldStart, name);

  const graphChunks: Uint8Array[] = [];
  for (const f of fields(bytes, graphField.payloadStart, graphField.payloadEnd)) {
    const name = f.field === 5 && f.wire === WIRE_LEN ? byStart.get(f.start) : undefined;
    if (name === undefined) {
      graphChunks.push(bytes.subarray(f.start, f.end));
      continue;
    }
    const r = replacements.get(name)!;
    const tensor: Uint8Array[] = [];
    for (const d of r.dims) tensor.push(...varintField(1, d));
    tensor.push(...varintField(2, r.dataType), ...stringField(8, name));
    const w = where.get(name);
    if (w) {
      const length = r.external?.length ?? r.data!.byteLength;
      for (const [k, v] of [['location', w.location], ['offset', String(w.offset)], ['length', String(length)]] as const)
        tensor.push(...lenField(13, [...stringField(1, k), ...stringField(2, v)]));
      tensor.push(...varintField(14, 1));
    } else {
      tensor.push(...lenField(9, [r.data!]));
    }
    graphChunks.push(...lenField(5, tensor));
  }
  const modelBytes = concat([
    bytes.subarray(0, graphField.start),
    ...lenField(7, graphChunks),
    bytes.subarray(graphField.end),
  ]);

  const externalData = files.map((f) => {
    const data = new Uint8Array(f.size);
    for (const p of f.parts) data.set(p.data, p.offset);
    return { path: f.path, data };
  });
  return {
    modelBytes,
    externalData,
    byteLength: modelBytes.byteLength + externalData.reduce((a, f) => a + f.data.byteLength, 0),
  };
}
