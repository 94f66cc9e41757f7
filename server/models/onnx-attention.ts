// Rewrites the whole-matrix attention torch exported into Optimum ONNX graphs (diffusers'
// AttnProcessor: head_to_batch_dim, baddbmm(q, kᵀ, beta=0, alpha=scale), softmax, bmm,
// batch_to_head_dim) into onnxruntime's com.microsoft MultiHeadAttention, the op graphs
// compiled from checkpoints use (layers.ts): no S×S′ score matrix, a flash kernel on CPU.
//
//   q3 = Reshape(Transpose(Reshape(q, [B,S,h,D/h]), 0213), [B·h,S,D/h])      (k3, v3 alike)
//   p  = [Cast] Softmax₋₁([Cast] Add(Mul(MatMul(q3, Transpose(k3, 021)), α), Mul(ConstantOfShape, 0)))
//   o  = Reshape(Transpose(Reshape(MatMul(p, v3), [B,h,S,D/h]), 0213), [B,S,D])
//   →  o = MultiHeadAttention(q, k, v; num_heads = h, scale = α)
//
// The 4-D layout torch ≥ 2.0 exports from scaled_dot_product_attention is matched by
// onnx-attention-sdpa.ts.
//
// A subgraph is rewritten only when every piece is proven: reshape targets (evaluated from the
// exported shape arithmetic), transpose perms, softmax axis, constant scale, a zero baddbmm
// term, and no value inside it used elsewhere. Anything else (masks, other layouts) stays.
import type { OnnxModel, OnnxNode } from './onnx-graph.js';
import { fields as fieldsOf } from './protobuf.js';
import { editGraph, type GraphEdit, type NewNode } from './onnx-graph-edit.js';
import { constantValues, dimOf, scalarConstant, ShapeEvaluator, symDiv, symMul, type Sym } from './onnx-shape-expr.js';
import { allowZero, consumerOfType, isFloatCast, onlyConsumer, perm, sameInts, type AttentionMatch } from './onnx-attention-common.js';
import { SdpaMatcher } from './onnx-attention-sdpa.js';

export interface AttentionRewrite {
  /** The edited model as chunks (see onnx-graph-edit.ts), or undefined when nothing matched. */
  chunks?: Uint8Array[];
  /** Subgraphs replaced by MultiHeadAttention. */
  rewritten: number;
  /** Softmax nodes left as they were (not the pattern, or not provably equivalent). */
  left: number;
}

type Match = AttentionMatch;

export function rewriteAttention(model: OnnxModel): AttentionRewrite {
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of model.nodes) for (const i of n.inputs) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  const graphOutputs = graphOutputNames(model);
  const index = new Map<OnnxNode, number>(model.nodes.map((n, i) => [n, i]));
  const shapes = new ShapeEvaluator(model);
  const matcher = new Matcher(model, consumers, shapes);
  const sdpa = new SdpaMatcher({ model, consumers }, shapes);
  const edit: GraphEdit = { remove: new Set(), insertAt: new Map(), removedValues: new Set(), opsets: [['com.microsoft', 1]] };
  const removed = new Set<OnnxNode>();
  let rewritten = 0;
  let left = 0;
  for (const softmax of model.nodes.filter((n) => n.opType === 'Softmax')) {
    const m = matcher.match(softmax) ?? sdpa.match(softmax);
    const cone = m && removableCone(m, consumers, removed, graphOutputs, model);
    if (!m || !cone) {
      left++;
      continue;
    }
    const out = m.nodes[m.nodes.length - 1]!;
    for (const n of cone) {
      removed.add(n);
      edit.remove.add(index.get(n)!);
      for (const o of n.outputs) if (o !== out.outputs[0]) edit.removedValues.add(o);
    }
    const mha: NewNode = {
      name: `${out.name}/MultiHeadAttention`,
      opType: 'MultiHeadAttention',
      domain: 'com.microsoft',
      inputs: [m.q, m.k, m.v],
      outputs: [out.outputs[0]!],
      ints: { num_heads: m.heads },
      ...(m.scale === undefined ? {} : { floats: { scale: m.scale } }),
    };
    edit.insertAt.set(index.get(out)!, [mha]);
    rewritten++;
  }
  return { rewritten, left, ...(rewritten ? { chunks: editGraph(model, edit) } : {}) };
}

/**
 * The matched nodes plus the shape arithmetic only they use; undefined when a value inside
 * the pattern (other than its output) is used by a node that stays, or is a graph output.
 */
function removableCone(m: Match, consumers: Map<string, OnnxNode[]>, removed: Set<OnnxNode>, graphOutputs: Set<string>, model: OnnxModel): Set<OnnxNode> | undefined {
  const out = m.nodes[m.nodes.length - 1]!.outputs[0]!;
  const cone = new Set(m.nodes);
  const gone = (n: OnnxNode) => cone.has(n) || removed.has(n);
  const keepsInputs = new Set([m.q, m.k, m.v]);
  const work = m.nodes.flatMap((n) => n.inputs);
  while (work.length) {
    const v = work.pop()!;
    const p = model.producers.get(v);
    if (!p || gone(p) || keepsInputs.has(v)) continue;
    const dead = p.outputs.every((o) => !graphOutputs.has(o) && (consumers.get(o) ?? []).length > 0 && consumers.get(o)!.every(gone));
    if (!dead) continue;
    cone.add(p);
    work.push(...p.inputs);
  }
  for (const n of cone)
    for (const o of n.outputs) {
      if (o === out) continue;
      if (graphOutputs.has(o) || (consumers.get(o) ?? []).some((c) => !gone(c))) return undefined;
    }
  return cone;
}

class Matcher {
  constructor(
    readonly model: OnnxModel,
    readonly consumers: Map<string, OnnxNode[]>,
    private readonly shapes: ShapeEvaluator,
  ) {}

  match(softmax: OnnxNode): Match | undefined {
    const axis = softmax.attributes.find((a) => a.name === 'axis')?.i ?? -1;
    if (axis !== -1 && axis !== 2) return undefined;
    const nodes: OnnxNode[] = [softmax];
    // Forward: [Cast] → MatMul(p, v3) → output reshapes.
    let probs = softmax;
    let next = this.onlyConsumer(probs);
    while (next?.opType === 'Cast' && isFloatCast(next)) {
      nodes.push(next);
      probs = next;
      next = this.onlyConsumer(probs);
    }
    if (next?.opType !== 'MatMul' || next.inputs[0] !== probs.outputs[0]) return undefined;
    const pv = next;
    nodes.push(pv);
    // Backward: [Cast] ← Add(scaled, zero) ← Mul/Div(MatMul(q3, kᵀ), α).
    let scores = this.producer(softmax.inputs[0]!);
    while (scores?.opType === 'Cast' && isFloatCast(scores)) {
      nodes.push(scores);
      scores = this.producer(scores.inputs[0]!);
    }
    if (scores?.opType === 'Add') {
      const zeroSide = scores.inputs.findIndex((i) => this.isZeroTerm(i, nodes));
      if (zeroSide < 0) return undefined;
      nodes.push(scores);
      scores = this.producer(scores.inputs[1 - zeroSide]!);
    }
    let scale = 1;
    if (scores?.opType === 'Mul' || scores?.opType === 'Div') {
      const c = scores.inputs.map((i) => scalarConstant(this.model, i));
      const side = scores.opType === 'Div' ? (c[1] !== undefined ? 0 : -1) : c[1] !== undefined ? 0 : c[0] !== undefined ? 1 : -1;
      if (side < 0) return undefined;
      const k = c[1 - side]!;
      scale = scores.opType === 'Div' ? 1 / k : k;
      if (!Number.isFinite(scale) || scale === 0) return undefined;
      nodes.push(scores);
      scores = this.producer(scores.inputs[side]!);
    }
    if (scores?.opType !== 'MatMul') return undefined;
    nodes.push(scores);
    const kT = this.producer(scores.inputs[1]!);
    if (kT?.opType !== 'Transpose' || !sameInts(perm(kT), [0, 2, 1])) return undefined;
    nodes.push(kT);
    const q = this.headsToBatch(scores.inputs[0]!, nodes);
    const k = this.headsToBatch(kT.inputs[0]!, nodes);
    const v = this.headsToBatch(pv.inputs[1]!, nodes);
    if (!q || !k || !v || q.heads !== k.heads || q.heads !== v.heads) return undefined;
    if (!this.batchToHeads(pv, q.heads, nodes)) return undefined;
    return { q: q.src, k: k.src, v: v.src, heads: q.heads, scale, nodes };
  }

  /** Reshape(Transpose(Reshape(src, [B,S,h,D/h]), 0213), [B·h,S,D/h]) → src and h. */
  private headsToBatch(value: string, nodes: OnnxNode[]): { src: string; heads: number } | undefined {
    const r2 = this.producer(value);
    if (r2?.opType !== 'Reshape' || allowZero(r2)) return undefined;
    const t = this.producer(r2.inputs[0]!);
    if (t?.opType !== 'Transpose' || !sameInts(perm(t), [0, 2, 1, 3])) return undefined;
    const r1 = this.producer(t.inputs[0]!);
    if (r1?.opType !== 'Reshape' || allowZero(r1)) return undefined;
    const src = r1.inputs[0]!;
    const s1 = this.shapes.vector(r1.inputs[1]!);
    const heads = s1?.length === 4 && /^\d+$/.test(s1[2]!) ? Number(s1[2]) : 0;
    if (!heads) return undefined;
    const [b, s, d] = [dimOf(src, 0), dimOf(src, 1), dimOf(src, 2)];
    const hd = symDiv(d, String(heads));
    if (!shapeIs(s1!, [b, s, String(heads), hd], [true, true, false, false])) return undefined;
    if (!shapeIs(this.shapes.vector(r2.inputs[1]!), [symMul(b, String(heads)), s, hd], [false, false, false])) return undefined;
    nodes.push(r2, t, r1);
    return { src, heads };
  }

  /** MatMul(p, v3) → Reshape([B,h,S,d]) → Transpose(0213) → Reshape([B,S,h·d]). */
  private batchToHeads(pv: OnnxNode, heads: number, nodes: OnnxNode[]): boolean {
    const o = pv.outputs[0]!;
    const r3 = this.consumerOfType(pv, 'Reshape');
    if (r3?.opType !== 'Reshape' || r3.inputs[0] !== o || allowZero(r3)) return false;
    const t = this.consumerOfType(r3, 'Transpose');
    if (t?.opType !== 'Transpose' || !sameInts(perm(t), [0, 2, 1, 3])) return false;
    const r4 = this.consumerOfType(t, 'Reshape');
    if (r4?.opType !== 'Reshape' || r4.inputs[0] !== t.outputs[0] || allowZero(r4)) return false;
    const h = String(heads);
    const [bh, s, d] = [dimOf(o, 0), dimOf(o, 1), dimOf(o, 2)];
    const b = symDiv(bh, h);
    if (!shapeIs(this.shapes.vector(r3.inputs[1]!), [b, h, s, d], [false, false, false, false])) return false;
    if (!shapeIs(this.shapes.vector(r4.inputs[1]!), [b, s, symMul(d, h)], [true, true, false])) return false;
    nodes.push(r3, t, r4);
    return true;
  }

  /** baddbmm's `beta · empty` with beta = 0: Mul(ConstantOfShape(finite), 0). */
  private isZeroTerm(value: string, nodes: OnnxNode[]): boolean {
    const mul = this.producer(value);
    if (mul?.opType !== 'Mul') return false;
    const c = mul.inputs.map((i) => scalarConstant(this.model, i));
    const side = c[1] === 0 ? 0 : c[0] === 0 ? 1 : -1;
    if (side < 0) return false;
    const fill = this.producer(mul.inputs[side]!);
    if (fill?.opType !== 'ConstantOfShape') return false;
    if (!fillValueFinite(this.model, fill)) return false;
    nodes.push(mul, fill);
    return true;
  }

  private producer(value: string): OnnxNode | undefined {
    return this.model.producers.get(value);
  }

  private consumerOfType(n: OnnxNode, opType: string): OnnxNode | undefined {
    return consumerOfType(this, n, opType);
  }

  private onlyConsumer(n: OnnxNode): OnnxNode | undefined {
    return onlyConsumer(this, n);
  }
}

/** ConstantOfShape's fill must be finite, so that 0 · fill is exactly 0. */
function fillValueFinite(model: OnnxModel, fill: OnnxNode): boolean {
  const t = fill.attributes.find((a) => a.name === 'value')?.t;
  if (!t) return true; // default fill: 0
  const asConstant: OnnxNode = { name: '', opType: 'Constant', inputs: [], outputs: ['\u0000fill'], attributes: [{ name: 'value', t }] };
  const values = constantValues({ ...model, initializers: new Map(), producers: new Map([['\u0000fill', asConstant]]) }, '\u0000fill');
  return values?.length === 1 && Number.isFinite(values[0]);
}

/** Reshape target equals the expected dims; one -1 anywhere, or 0 (copy) where allowed. */
function shapeIs(actual: Sym[] | undefined, expected: Sym[], copyOk: boolean[]): boolean {
  if (!actual || actual.length !== expected.length) return false;
  let inferred = 0;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] === expected[i]) continue;
    if (actual[i] === '-1' && ++inferred === 1) continue;
    if (actual[i] === '0' && copyOk[i]) continue;
    return false;
  }
  return true;
}

/** Names of the graph's outputs (GraphProto.output = 12, ValueInfoProto.name = 1). */
function graphOutputNames(model: OnnxModel): Set<string> {
  const names = new Set<string>();
  const { bytes, graphField } = model;
  const utf8 = new TextDecoder();
  for (const f of fieldsOf(bytes, graphField.payloadStart, graphField.payloadEnd))
    if (f.field === 12)
      for (const g of fieldsOf(bytes, f.payloadStart, f.payloadEnd)) if (g.field === 1) names.add(utf8.decode(bytes.subarray(g.payloadStart, g.payloadEnd)));
  return names;
}
