// Reads the small constants of an ONNX graph (Constant nodes, tiny initializers) and evaluates
// the shape arithmetic torch exports around Reshape (Shape → Gather → Mul/Div → Unsqueeze →
// Concat) into canonical symbolic terms, so a graph rewrite can prove what a Reshape does.
import { fields, pushInts, WIRE_LEN } from './protobuf.js';
import { f16ToF32, bf16ToF32 } from './half.js';
import type { OnnxModel, OnnxNode } from './onnx-graph.js';

/** A symbolic integer: a decimal number ("4", "-1") or a canonical term such as "dim(x,1)" or "(dim(x,0)*4)". */
export type Sym = string;

const MAX_CONSTANT_ELEMENTS = 64;

/** Values of a small constant tensor (a Constant node's output or an initializer), else undefined. */
export function constantValues(model: OnnxModel, value: string): number[] | undefined {
  const init = model.initializers.get(value);
  if (init) {
    if (init.external || init.dims.reduce((a, b) => a * b, 1) > MAX_CONSTANT_ELEMENTS) return undefined;
    return decodeTensor(model.bytes, init.fieldStart, init.fieldEnd, true);
  }
  const node = model.producers.get(value);
  if (node?.opType !== 'Constant') return undefined;
  const t = node.attributes.find((a) => a.name === 'value')?.t;
  return t ? decodeTensor(model.bytes, t.start, t.end, false) : undefined;
}

/** The one value of a scalar (or single-element) constant. */
export function scalarConstant(model: OnnxModel, value: string): number | undefined {
  const v = constantValues(model, value);
  return v?.length === 1 ? v[0] : undefined;
}

/** Decodes a small TensorProto (its whole field, or just its payload) to numbers. */
function decodeTensor(buf: Uint8Array, start: number, end: number, wholeField: boolean): number[] | undefined {
  if (wholeField) {
    const outer = [...fields(buf, start, end)][0];
    if (!outer || outer.wire !== WIRE_LEN) return undefined;
    start = outer.payloadStart;
    end = outer.payloadEnd;
  }
  let dataType = 0;
  const dims: number[] = [];
  let raw: { start: number; end: number } | undefined;
  const ints: number[] = [];
  const floats: number[] = [];
  for (const f of fields(buf, start, end)) {
    if (f.field === 1) pushInts(buf, f, dims);
    else if (f.field === 2) dataType = f.value;
    else if (f.field === 9) raw = { start: f.payloadStart, end: f.payloadEnd };
    else if (f.field === 5 || f.field === 7) pushInts(buf, f, ints);
    else if (f.field === 4) for (let p = f.payloadStart; p + 4 <= f.payloadEnd; p += 4) floats.push(view(buf, p, 4).getFloat32(0, true));
    else if (f.field === 13 || f.field === 14) return undefined; // external: never a small constant
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_CONSTANT_ELEMENTS) return undefined;
  if (raw) {
    const width = { 1: 4, 6: 4, 7: 8, 10: 2, 11: 8, 16: 2 }[dataType];
    if (!width || raw.end - raw.start !== n * width) return undefined;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const dv = view(buf, raw.start + i * width, width);
      if (dataType === 1) out.push(dv.getFloat32(0, true));
      else if (dataType === 6) out.push(dv.getInt32(0, true));
      else if (dataType === 7) out.push(Number(dv.getBigInt64(0, true)));
      else if (dataType === 10) out.push(f16ToF32(dv.getUint16(0, true)));
      else if (dataType === 11) out.push(dv.getFloat64(0, true));
      else out.push(bf16ToF32(dv.getUint16(0, true)));
    }
    return out;
  }
  if (dataType === 1 && floats.length === n) return floats;
  if ((dataType === 6 || dataType === 7) && ints.length === n) return ints;
  if (dataType === 10 && ints.length === n) return ints.map((b) => f16ToF32(b & 0xffff));
  return undefined;
}

function view(buf: Uint8Array, at: number, len: number): DataView {
  return new DataView(buf.buffer, buf.byteOffset + at, len);
}

const isNum = (s: Sym) => /^-?\d+$/.test(s);

/** Canonical product: numbers multiplied out, terms sorted, so a·b and b·a compare equal. */
export function symMul(a: Sym, b: Sym): Sym {
  const parts = [...factors(a), ...factors(b)];
  let n = 1;
  const terms: string[] = [];
  for (const p of parts) {
    if (isNum(p)) n *= Number(p);
    else terms.push(p);
  }
  if (!terms.length) return String(n);
  if (n === 0) return '0';
  terms.sort();
  if (n !== 1) terms.unshift(String(n));
  return terms.length === 1 ? terms[0]! : `(${terms.join('*')})`;
}

function factors(s: Sym): string[] {
  return s.startsWith('(') && s.endsWith(')') && !s.includes('/') ? s.slice(1, -1).split('*') : [s];
}

/** Canonical integer division (torch's `//` on sizes): numbers folded, (k·x) / k simplified to x. */
export function symDiv(a: Sym, b: Sym): Sym {
  if (isNum(a) && isNum(b) && Number(b) !== 0) return String(Math.trunc(Number(a) / Number(b)));
  if (b === '1') return a;
  const f = factors(a);
  const i = f.indexOf(b);
  if (i < 0) return `(${a}/${b})`;
  return f.filter((_, j) => j !== i).reduce((acc, p) => symMul(acc, p), '1');
}

/** Evaluates shape arithmetic torch exports for sizes; undefined for anything else. */
export class ShapeEvaluator {
  constructor(private readonly model: OnnxModel) {}

  /** A scalar size. */
  scalar(value: string, depth = 0): Sym | undefined {
    if (depth > 24) return undefined;
    const c = constantValues(this.model, value);
    if (c) return c.length === 1 && Number.isInteger(c[0]) ? String(c[0]) : undefined;
    const n = this.model.producers.get(value);
    if (!n) return undefined;
    switch (n.opType) {
      case 'Gather':
        return this.gatherDim(n);
      case 'Cast':
      case 'Identity':
      case 'Floor':
        return this.scalar(n.inputs[0]!, depth + 1);
      case 'Mul':
      case 'Div': {
        const a = this.scalar(n.inputs[0]!, depth + 1);
        const b = this.scalar(n.inputs[1]!, depth + 1);
        if (a === undefined || b === undefined) return undefined;
        return n.opType === 'Mul' ? symMul(a, b) : symDiv(a, b);
      }
      default:
        return undefined;
    }
  }

  /** A 1-D shape vector (what Reshape takes). */
  vector(value: string, depth = 0): Sym[] | undefined {
    if (depth > 24) return undefined;
    const c = constantValues(this.model, value);
    if (c) return c.every(Number.isInteger) ? c.map(String) : undefined;
    const n = this.model.producers.get(value);
    if (!n) return undefined;
    switch (n.opType) {
      case 'Concat': {
        if (n.attributes.find((a) => a.name === 'axis')?.i !== 0) return undefined;
        const out: Sym[] = [];
        for (const i of n.inputs) {
          const v = this.vector(i, depth + 1);
          if (!v) return undefined;
          out.push(...v);
        }
        return out;
      }
      case 'Unsqueeze': {
        const axes = n.inputs[1] ? constantValues(this.model, n.inputs[1]) : n.attributes.find((a) => a.name === 'axes')?.ints;
        if (!axes || axes.length !== 1 || (axes[0] !== 0 && axes[0] !== -1)) return undefined;
        const s = this.scalar(n.inputs[0]!, depth + 1);
        return s === undefined ? undefined : [s];
      }
      case 'Cast':
      case 'Identity':
        return this.vector(n.inputs[0]!, depth + 1);
      case 'Slice':
        return this.slicedShape(n, depth);
      default:
        return undefined;
    }
  }

  /**
   * Dims of a tensor made by Reshape / Transpose (rank known from the target or perm); an
   * entry is undefined where the Reshape infers it (-1).
   */
  dims(value: string, depth = 0): (Sym | undefined)[] | undefined {
    if (depth > 24) return undefined;
    const n = this.model.producers.get(value);
    if (n?.opType === 'Reshape') {
      if ((n.attributes.find((a) => a.name === 'allowzero')?.i ?? 0) !== 0) return undefined;
      return this.vector(n.inputs[1]!, depth + 1)?.map((d, i) => (d === '-1' ? undefined : d === '0' ? dimOf(n.inputs[0]!, i) : d));
    }
    if (n?.opType === 'Transpose') {
      const perm = n.attributes.find((a) => a.name === 'perm')?.ints;
      if (!perm) return undefined;
      const inner = this.dims(n.inputs[0]!, depth + 1) ?? perm.map((_, i) => dimOf(n.inputs[0]!, i));
      return inner.length === perm.length ? perm.map((p) => inner[p]) : undefined;
    }
    return undefined;
  }

  /** Slice(Shape(x), starts, ends) along axis 0 with step 1 (torch's `size(-1)`), where dims(x) knows those dims. */
  private slicedShape(n: OnnxNode, depth: number): Sym[] | undefined {
    const shape = this.model.producers.get(n.inputs[0]!);
    if (shape?.opType !== 'Shape' || shape.attributes.length) return undefined;
    const dims = this.dims(shape.inputs[0]!, depth + 1);
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (n.inputs[i] ? constantValues(this.model, n.inputs[i]!) : undefined));
    if (!dims || starts?.length !== 1 || ends?.length !== 1) return undefined;
    if (axes && !(axes.length === 1 && (axes[0] === 0 || axes[0] === -1))) return undefined;
    if (steps && !(steps.length === 1 && steps[0] === 1)) return undefined;
    const at = (i: number) => Math.min(Math.max(i < 0 ? i + dims.length : i, 0), dims.length);
    const out = dims.slice(at(starts[0]!), at(ends[0]!));
    return out.every((d): d is Sym => d !== undefined) ? out : undefined;
  }

  /** Gather(Shape(x), i) → "dim(x,i)". */
  private gatherDim(g: OnnxNode): Sym | undefined {
    const shape = this.model.producers.get(g.inputs[0]!);
    if (shape?.opType !== 'Shape' || shape.attributes.length) return undefined;
    if ((g.attributes.find((a) => a.name === 'axis')?.i ?? 0) !== 0) return undefined;
    const idx = scalarConstant(this.model, g.inputs[1]!);
    if (idx === undefined || !Number.isInteger(idx) || idx < 0) return undefined;
    return `dim(${shape.inputs[0]},${idx})`;
  }
}

export function dimOf(tensor: string, axis: number): Sym {
  return `dim(${tensor},${axis})`;
}
