// Builds small ONNX models from scratch with the project's protobuf writer, for tests of
// dtypes and ops the fixtures do not have (fp16 weights, Gemm with transB).
import { concat, lenField, stringField, varintField } from '../../../server/models/protobuf.js';

export interface TinyNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  /** Integer attributes (e.g. transB). */
  ints?: Record<string, number>;
}

export interface TinyTensor {
  name: string;
  dims: number[];
  dataType: number;
  data: Uint8Array;
}

function valueInfo(name: string, elemType: number, dims: number[]): Uint8Array[] {
  const shape = dims.flatMap((d) => lenField(1, varintField(1, d)));
  const tensorType = [...varintField(1, elemType), ...lenField(2, shape)];
  return [...stringField(1, name), ...lenField(2, lenField(1, tensorType))];
}

export function buildModel(opts: {
  nodes: TinyNode[];
  initializers: TinyTensor[];
  inputs: { name: string; elemType: number; dims: number[] }[];
  outputs: { name: string; elemType: number; dims: number[] }[];
  opset?: number;
}): Uint8Array {
  const graph: Uint8Array[] = [];
  for (const n of opts.nodes) {
    const node: Uint8Array[] = [];
    for (const i of n.inputs) node.push(...stringField(1, i));
    for (const o of n.outputs) node.push(...stringField(2, o));
    node.push(...stringField(3, n.name), ...stringField(4, n.op));
    for (const [k, v] of Object.entries(n.ints ?? {})) node.push(...lenField(5, [...stringField(1, k), ...varintField(3, v), ...varintField(20, 2)]));
    graph.push(...lenField(1, node));
  }
  graph.push(...stringField(2, 'tiny'));
  for (const t of opts.initializers) {
    const tensor: Uint8Array[] = [];
    for (const d of t.dims) tensor.push(...varintField(1, d));
    tensor.push(...varintField(2, t.dataType), ...stringField(8, t.name), ...lenField(9, [t.data]));
    graph.push(...lenField(5, tensor));
  }
  for (const i of opts.inputs) graph.push(...lenField(11, valueInfo(i.name, i.elemType, i.dims)));
  for (const o of opts.outputs) graph.push(...lenField(12, valueInfo(o.name, o.elemType, o.dims)));
  return concat([
    ...varintField(1, 8),
    ...stringField(2, 'maskflow-test'),
    ...lenField(7, graph),
    ...lenField(8, [...stringField(1, ''), ...varintField(2, opts.opset ?? 14)]),
  ]);
}
