// Writes small ONNX models with the protobuf writer: the merge kernels (merge-kernel.ts) and
// test models. Dims are numbers or symbolic names (dynamic axes).
import { concat, int64Varint, lenField, stringField, tag, varintField, WIRE_VARINT } from './protobuf.js';

export interface BuildNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  /** Integer attributes (e.g. transB, to, axis: -1). */
  ints?: Record<string, number>;
  /** Integer-list attributes (e.g. perm). */
  intLists?: Record<string, number[]>;
}

export interface BuildTensor {
  name: string;
  dims: number[];
  dataType: number;
  data: Uint8Array;
}

export interface BuildValue {
  name: string;
  elemType: number;
  dims: (number | string)[];
}

function valueInfo(v: BuildValue): Uint8Array[] {
  const shape = v.dims.flatMap((d) => lenField(1, typeof d === 'number' ? varintField(1, d) : stringField(2, d)));
  const tensorType = [...varintField(1, v.elemType), ...lenField(2, shape)];
  return [...stringField(1, v.name), ...lenField(2, lenField(1, tensorType))];
}

export function buildModel(opts: { nodes: BuildNode[]; initializers?: BuildTensor[]; inputs: BuildValue[]; outputs: BuildValue[]; opset?: number }): Uint8Array {
  const graph: Uint8Array[] = [];
  for (const n of opts.nodes) {
    const node: Uint8Array[] = [];
    for (const i of n.inputs) node.push(...stringField(1, i));
    for (const o of n.outputs) node.push(...stringField(2, o));
    node.push(...stringField(3, n.name), ...stringField(4, n.op));
    // AttributeProto: name = 1, i = 3, ints = 8, type = 20 (INT = 2, INTS = 7).
    for (const [k, v] of Object.entries(n.ints ?? {})) node.push(...lenField(5, [...stringField(1, k), tag(3, WIRE_VARINT), int64Varint(v), ...varintField(20, 2)]));
    for (const [k, vs] of Object.entries(n.intLists ?? {}))
      node.push(...lenField(5, [...stringField(1, k), ...vs.flatMap((v) => [tag(8, WIRE_VARINT), int64Varint(v)]), ...varintField(20, 7)]));
    graph.push(...lenField(1, node));
  }
  graph.push(...stringField(2, 'maskflow'));
  for (const t of opts.initializers ?? []) {
    const tensor: Uint8Array[] = [];
    for (const d of t.dims) tensor.push(...varintField(1, d));
    tensor.push(...varintField(2, t.dataType), ...stringField(8, t.name), ...lenField(9, [t.data]));
    graph.push(...lenField(5, tensor));
  }
  for (const i of opts.inputs) graph.push(...lenField(11, valueInfo(i)));
  for (const o of opts.outputs) graph.push(...lenField(12, valueInfo(o)));
  return concat([
    ...varintField(1, 8), // ir_version
    ...stringField(2, 'maskflow'),
    ...lenField(7, graph),
    ...lenField(8, [...stringField(1, ''), ...varintField(2, opts.opset ?? 14)]),
  ]);
}
