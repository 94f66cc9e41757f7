// Structural edits of a parsed ONNX model: drop nodes, put new nodes in place of others, drop
// value_info of values that no longer exist, add an opset import. Everything else, initializers
// and their external-data references included, is copied byte for byte. Returns chunks so a
// caller can stream them to a file without assembling the model in memory.
import { fields, lenField, stringField, tag, varintField, WIRE_I32, WIRE_LEN } from './protobuf.js';
import type { OnnxModel } from './onnx-graph.js';

export interface NewNode {
  name: string;
  opType: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  ints?: Record<string, number>;
  floats?: Record<string, number>;
}

export interface GraphEdit {
  /** Indexes into model.nodes of nodes to drop. */
  remove: Set<number>;
  /** New nodes written where the node of that index was (it must be in `remove` too). */
  insertAt: Map<number, NewNode[]>;
  /** Values that no longer exist: their value_info entries go. */
  removedValues: Set<string>;
  /** Opset imports the new nodes need, e.g. ['com.microsoft', 1]. */
  opsets: [string, number][];
}

export function editGraph(model: OnnxModel, edit: GraphEdit): Uint8Array[] {
  const { bytes, graphField } = model;
  const graph: Uint8Array[] = [];
  let nodeIndex = 0;
  for (const f of fields(bytes, graphField.payloadStart, graphField.payloadEnd)) {
    if (f.field === 1 && f.wire === WIRE_LEN) {
      const i = nodeIndex++;
      for (const n of edit.insertAt.get(i) ?? []) graph.push(...lenField(1, nodeProto(n)));
      if (edit.remove.has(i)) continue;
    } else if (f.field === 13 && f.wire === WIRE_LEN && edit.removedValues.has(valueInfoName(bytes, f.payloadStart, f.payloadEnd))) continue;
    graph.push(bytes.subarray(f.start, f.end));
  }
  if (nodeIndex !== model.nodes.length) throw new Error(`graph has ${nodeIndex} nodes, the parsed model ${model.nodes.length}`);

  const out: Uint8Array[] = [];
  const have = new Set<string>();
  for (const f of fields(bytes)) {
    if (f.field === 8 && f.wire === WIRE_LEN) have.add(opsetDomain(bytes, f.payloadStart, f.payloadEnd));
    if (f.field === 7 && f.start === graphField.start) out.push(...lenField(7, graph));
    else out.push(bytes.subarray(f.start, f.end));
  }
  for (const [domain, version] of edit.opsets) if (!have.has(domain)) out.push(...lenField(8, [...stringField(1, domain), ...varintField(2, version)]));
  return out;
}

function nodeProto(n: NewNode): Uint8Array[] {
  const p: Uint8Array[] = [];
  for (const i of n.inputs) p.push(...stringField(1, i));
  for (const o of n.outputs) p.push(...stringField(2, o));
  p.push(...stringField(3, n.name), ...stringField(4, n.opType));
  // AttributeProto: name = 1, f = 2, i = 3, type = 20 (FLOAT = 1, INT = 2).
  for (const [k, v] of Object.entries(n.ints ?? {})) p.push(...lenField(5, [...stringField(1, k), ...varintField(3, v), ...varintField(20, 2)]));
  for (const [k, v] of Object.entries(n.floats ?? {})) {
    const f = new Uint8Array(4);
    new DataView(f.buffer).setFloat32(0, v, true);
    p.push(...lenField(5, [...stringField(1, k), tag(2, WIRE_I32), f, ...varintField(20, 1)]));
  }
  if (n.domain) p.push(...stringField(7, n.domain));
  return p;
}

const utf8 = new TextDecoder();

function valueInfoName(buf: Uint8Array, start: number, end: number): string {
  for (const f of fields(buf, start, end)) if (f.field === 1 && f.wire === WIRE_LEN) return utf8.decode(buf.subarray(f.payloadStart, f.payloadEnd));
  return '';
}

function opsetDomain(buf: Uint8Array, start: number, end: number): string {
  for (const f of fields(buf, start, end)) if (f.field === 1 && f.wire === WIRE_LEN) return utf8.decode(buf.subarray(f.payloadStart, f.payloadEnd));
  return '';
}

/** Total bytes of a chunk list. */
export function chunksLength(chunks: Uint8Array[]): number {
  return chunks.reduce((a, c) => a + c.byteLength, 0);
}
