// Builds ONNX models node by node and serialises them with the project's protobuf writer.
// Node names follow the module path scope (`/down_blocks.1/attentions.0/.../to_q/Gemm`), as
// torch.onnx names them, so LoRA keys map onto the compiled graphs exactly as onto Optimum
// exports (server/models/onnx-modules.ts). Weights are never copied into the protobuf: an
// initializer is an external-data reference to a byte range of the checkpoint file.
// Field numbers are from onnx.proto.
import { f32ToF16 } from '../models/half.js';
import { concat, int64Varint, lenField, stringField, tag, varint, WIRE_I32, WIRE_VARINT } from '../models/protobuf.js';

export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;

export type AttrValue = number | string | number[] | { floats: number[] } | { float: number };

export interface ExternalRef {
  /** Location relative to the model file's folder. */
  location: string;
  offset: number;
  length: number;
}

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  raw?: Uint8Array;
  external?: ExternalRef;
}

interface Node {
  name: string;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: [string, AttrValue][];
}

export interface ValueSpec {
  name: string;
  elemType: number;
  dims: (number | string)[];
}

function f32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return b;
}

function attribute(name: string, v: AttrValue): Uint8Array[] {
  const head = stringField(1, name);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use {float} for non-integers`);
    return lenField(5, [...head, tag(3, WIRE_VARINT), int64Varint(v), tag(20, WIRE_VARINT), varint(2)]);
  }
  if (typeof v === 'string') return lenField(5, [...head, ...stringField(4, v), tag(20, WIRE_VARINT), varint(3)]);
  if (Array.isArray(v)) return lenField(5, [...head, ...v.flatMap((x) => [tag(8, WIRE_VARINT), int64Varint(x)]), tag(20, WIRE_VARINT), varint(7)]);
  if ('float' in v) return lenField(5, [...head, tag(2, WIRE_I32), f32Bytes(v.float), tag(20, WIRE_VARINT), varint(1)]);
  return lenField(5, [...head, ...v.floats.flatMap((x) => [tag(7, WIRE_I32), f32Bytes(x)]), tag(20, WIRE_VARINT), varint(6)]);
}

function valueInfo(v: ValueSpec): Uint8Array[] {
  const shape = v.dims.flatMap((d) => lenField(1, typeof d === 'number' ? [tag(1, WIRE_VARINT), varint(d)] : stringField(2, d)));
  return [...stringField(1, v.name), ...lenField(2, lenField(1, [tag(1, WIRE_VARINT), varint(v.elemType), ...lenField(2, shape)]))];
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  /** Nodes emitted before all others (weight casts and transposes added once the graph is known). */
  private readonly preludeNodes: Node[] = [];
  private inPrelude = false;
  private readonly inits = new Map<string, Initializer>();
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private readonly scopeStack: string[] = [];
  private readonly opCount = new Map<string, number>();
  private readonly constCache = new Map<string, string>();
  private tmp = 0;
  usesMicrosoftDomain = false;

  constructor(readonly opset = 17) {}

  /** Runs fn with `part` appended to the module path (node names and value names). */
  scope<T>(part: string, fn: () => T): T {
    this.scopeStack.push(part);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }

  get modulePath(): string {
    return this.scopeStack.join('.');
  }

  input(spec: ValueSpec): string {
    this.inputs.push(spec);
    return spec.name;
  }

  output(value: string, spec: Omit<ValueSpec, 'name'> & { name?: string }): void {
    const name = spec.name ?? value;
    if (name !== value) this.op('Identity', [value], {}, name);
    this.outputs.push({ name, elemType: spec.elemType, dims: spec.dims });
  }

  /** Adds a node; returns its (first) output. `outName` forces the output name. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string, nOutputs = 1, domain = ''): string {
    return this.opMulti(op, inputs, attrs, nOutputs, domain, outName)[0]!;
  }

  opMulti(op: string, inputs: string[], attrs: Record<string, AttrValue>, nOutputs: number, domain = '', outName?: string): string[] {
    if (domain === 'com.microsoft') this.usesMicrosoftDomain = true;
    const prefix = this.scopeStack.length ? `/${this.scopeStack.join('/')}` : '';
    const key = `${prefix}/${op}`;
    const n = this.opCount.get(key) ?? 0;
    this.opCount.set(key, n + 1);
    const name = `${key}${n ? `_${n}` : ''}`;
    const outputs = Array.from({ length: nOutputs }, (_, i) => (i === 0 && outName ? outName : `${name}_output_${i}`));
    (this.inPrelude ? this.preludeNodes : this.nodes).push({ name, op, domain, inputs, outputs, attrs: Object.entries(attrs) });
    return outputs;
  }

  /** Adds nodes that must run before the graph body (they read only initializers). */
  prelude<T>(fn: () => T): T {
    this.inPrelude = true;
    try {
      return fn();
    } finally {
      this.inPrelude = false;
    }
  }

  /** An initializer whose bytes live in an external file. */
  external(name: string, dims: number[], dataType: number, ref: ExternalRef): string {
    if (this.inits.has(name)) throw new Error(`duplicate initializer ${name}`);
    this.inits.set(name, { name, dims, dataType, external: ref });
    return name;
  }

  /** A small inline initializer. */
  inline(name: string, dims: number[], dataType: number, raw: Uint8Array): string {
    if (this.inits.has(name)) throw new Error(`duplicate initializer ${name}`);
    this.inits.set(name, { name, dims, dataType, raw });
    return name;
  }

  /** Shared int64 constant (shapes, axes, slice bounds). */
  i64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const raw = new Uint8Array(values.length * 8);
    const dv = new DataView(raw.buffer);
    values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
    const name = this.inline(`const_i64_${this.tmp++}`, dims, DT.INT64, raw);
    this.constCache.set(key, name);
    return name;
  }

  /** Shared float constant in the given dtype (FLOAT or FLOAT16). */
  float(values: number[] | Float32Array, dims: number[], dataType: number = DT.FLOAT): string {
    const arr = Float32Array.from(values);
    const key = arr.length <= 16 ? `f${dataType}:${dims.join('x')}:${[...arr].join(',')}` : undefined;
    const hit = key && this.constCache.get(key);
    if (hit) return hit;
    let raw: Uint8Array;
    if (dataType === DT.FLOAT16) {
      raw = new Uint8Array(arr.length * 2);
      const dv = new DataView(raw.buffer);
      arr.forEach((v, i) => dv.setUint16(i * 2, f32ToF16(v), true));
    } else raw = new Uint8Array(arr.buffer.slice(0));
    const name = this.inline(`const_f_${this.tmp++}`, dims, dataType, raw);
    if (key) this.constCache.set(key, name);
    return name;
  }

  /** Serialises the model. Graph inputs/outputs/initializers keep insertion order. */
  toBytes(graphName = 'maskflow'): Uint8Array {
    const graph: Uint8Array[] = [];
    for (const n of [...this.preludeNodes, ...this.nodes]) {
      const node: Uint8Array[] = [];
      for (const i of n.inputs) node.push(...stringField(1, i));
      for (const o of n.outputs) node.push(...stringField(2, o));
      node.push(...stringField(3, n.name), ...stringField(4, n.op));
      for (const [k, v] of n.attrs) node.push(...attribute(k, v));
      if (n.domain) node.push(...stringField(7, n.domain));
      graph.push(...lenField(1, node));
    }
    graph.push(...stringField(2, graphName));
    for (const t of this.inits.values()) {
      const tensor: Uint8Array[] = [];
      for (const d of t.dims) tensor.push(tag(1, WIRE_VARINT), varint(d));
      tensor.push(tag(2, WIRE_VARINT), varint(t.dataType), ...stringField(8, t.name));
      if (t.external) {
        for (const [k, v] of [['location', t.external.location], ['offset', String(t.external.offset)], ['length', String(t.external.length)]] as const)
          tensor.push(...lenField(13, [...stringField(1, k), ...stringField(2, v)]));
        tensor.push(tag(14, WIRE_VARINT), varint(1));
      } else tensor.push(...lenField(9, [t.raw!]));
      graph.push(...lenField(5, tensor));
    }
    for (const i of this.inputs) graph.push(...lenField(11, valueInfo(i)));
    for (const o of this.outputs) graph.push(...lenField(12, valueInfo(o)));
    const opsets = [lenField(8, [...stringField(1, ''), tag(2, WIRE_VARINT), varint(this.opset)])];
    if (this.usesMicrosoftDomain) opsets.push(lenField(8, [...stringField(1, 'com.microsoft'), tag(2, WIRE_VARINT), varint(1)]));
    return concat([
      tag(1, WIRE_VARINT), varint(8), // ir_version 8 (opset 17)
      ...stringField(2, 'maskflow'),
      ...lenField(7, graph),
      ...opsets.flat(),
    ]);
  }

  get nodeCount(): number {
    return this.nodes.length + this.preludeNodes.length;
  }
}
