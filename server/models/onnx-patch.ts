// Produces a patched ONNX model: the graph is copied verbatim except the replaced
// initializers. Replaced tensors either go inline (raw_data, a self-contained buffer for
// small models) or into in-memory "external data" files that ORT's `externalData` session
// option feeds at session creation, so the 2 GB protobuf limit never applies and the
// untouched weights of a big model stay in their own external files on disk.
import { concat, fields, lenField, stringField, varintField, WIRE_LEN } from './protobuf.js';
import type { OnnxModel } from './onnx-graph.js';

export interface TensorReplacement {
  dims: number[];
  dataType: number;
  /** Little-endian values in dataType. */
  data: Uint8Array;
}

export interface PatchedModel {
  modelBytes: Uint8Array;
  /** ORT session options the model needs (externalData files, folder of on-disk external data). */
  sessionOptions: {
    externalData?: { path: string; data: Uint8Array }[];
    extra?: Record<string, unknown>;
  };
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
  if (mode === 'external') {
    for (const [name, r] of replacements) {
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
      for (const [k, v] of [['location', w.location], ['offset', String(w.offset)], ['length', String(r.data.byteLength)]] as const)
        tensor.push(...lenField(13, [...stringField(1, k), ...stringField(2, v)]));
      tensor.push(...varintField(14, 1));
    } else {
      tensor.push(...lenField(9, [r.data]));
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
  const sessionOptions: PatchedModel['sessionOptions'] = {};
  if (externalData.length) sessionOptions.externalData = externalData;
  // A model loaded from a buffer resolves its on-disk external data against this folder.
  if ([...model.initializers.values()].some((t) => t.external && !replacements.has(t.name)))
    sessionOptions.extra = { session: { model_external_initializers_file_folder_path: model.dir } };
  return {
    modelBytes,
    sessionOptions,
    byteLength: modelBytes.byteLength + externalData.reduce((a, f) => a + f.data.byteLength, 0),
  };
}
