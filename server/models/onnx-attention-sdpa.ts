// Matches the attention torch ≥ 2.0 exports (TorchScript exporter, opset ≥ 14) from diffusers'
// AttnProcessor2_0, i.e. F.scaled_dot_product_attention on 4-D heads:
//
//   q4 = Transpose(Reshape(q, [B,-1,h,d]), 0213)                (k4, v4 alike; d = D//h)
//   kT = Transpose(k4, 0132)   — or one Transpose(Reshape(k), 0231) after torch's peephole fuses the two
//   p  = Softmax₋₁(MatMul(Mul(q4, √s), Mul(kT, √s)))
//   o  = Reshape(Transpose(MatMul(p, v4), 0213), [B,-1,h·d])
//   →  o = MultiHeadAttention(q, k, v; num_heads = h, scale = s)
//
// s is either a folded constant or torch's _attention_scale: [Cast] Div(1, Sqrt(Cast(Slice(
// Shape(q4), -1, INT64_MAX)))) (the trailing Cast exists in newer torch only); both √s factors
// are evaluated, and a shape-derived s must be 1/√d of the proven head size (MHA's default).
// diffusers takes B from encoder_hidden_states and d from the key, so a reshape may name the
// batch / hidden size of q, k or v: MultiHeadAttention checks at run time that those agree.
import type { OnnxNode } from './onnx-graph.js';
import { constantValues, dimOf, scalarConstant, symDiv, symMul, type ShapeEvaluator, type Sym } from './onnx-shape-expr.js';
import { allowZero, consumerOfType, isFloatCast, onlyConsumer, perm, sameInts, type AttentionMatch, type GraphView } from './onnx-attention-common.js';

/** One head split: Reshape(src, target) → Transpose(0213). */
interface Split {
  src: string;
  target: Sym[];
  nodes: OnnxNode[];
}

/** A scale factor c · d^p (d a symbolic size, p a multiple of 1/4). */
interface Factor {
  c: number;
  p: number;
  d?: Sym;
}

export class SdpaMatcher {
  constructor(
    private readonly g: GraphView,
    private readonly shapes: ShapeEvaluator,
  ) {}

  match(softmax: OnnxNode): AttentionMatch | undefined {
    const axis = softmax.attributes.find((a) => a.name === 'axis')?.i ?? -1;
    if (axis !== -1 && axis !== 3) return undefined;
    const nodes: OnnxNode[] = [softmax];
    let probs = softmax;
    let next = onlyConsumer(this.g, probs);
    while (next && isFloatCast(next)) {
      nodes.push(next);
      probs = next;
      next = onlyConsumer(this.g, probs);
    }
    if (next?.opType !== 'MatMul' || next.inputs[0] !== probs.outputs[0]) return undefined;
    const pv = next;
    nodes.push(pv);
    let scores = this.producer(softmax.inputs[0]!);
    while (scores && isFloatCast(scores)) {
      nodes.push(scores);
      scores = this.producer(scores.inputs[0]!);
    }
    if (scores?.opType === 'Add') {
      // Only an all-zero constant mask; a causal or padding mask stays.
      const zero = scores.inputs.findIndex((i) => constantValues(this.g.model, i)?.every((x) => x === 0));
      if (zero < 0) return undefined;
      nodes.push(scores);
      scores = this.producer(scores.inputs[1 - zero]!);
    }
    if (scores?.opType !== 'MatMul') return undefined;
    nodes.push(scores);

    const qSide = this.scaled(scores.inputs[0]!, (x) => {
      const split = this.split(x, [0, 2, 1, 3]);
      return split && { split };
    });
    const kSide = this.scaled(scores.inputs[1]!, (v) => this.keyTransposed(v));
    const v = this.split(pv.inputs[1]!, [0, 2, 1, 3]);
    if (!qSide || !kSide || !v) return undefined;
    const [q, k] = [qSide.split, kSide.split];
    const heads = this.heads(q, k, v);
    if (!heads) return undefined;
    const h = String(heads);
    const batch = [q, k, v].flatMap((s) => this.batchAliases(s.src));
    const qkHead = [q, k].map((s) => symDiv(dimOf(s.src, 2), h));
    const vHead = [...qkHead, symDiv(dimOf(v.src, 2), h)];
    if (!this.targetOk(q, batch, qkHead) || !this.targetOk(k, batch, qkHead) || !this.targetOk(v, batch, vHead)) return undefined;

    const f = combine(qSide.factor, kSide.factor, (a, b) => a + b, (a, b) => a * b);
    if (!f) return undefined;
    let scale: number | undefined;
    if (f.p === 0) scale = f.c;
    else if (f.p === -0.5 && f.c === 1 && qkHead.includes(f.d!)) scale = undefined;
    else return undefined;
    if (scale !== undefined && (!Number.isFinite(scale) || scale <= 0)) return undefined;
    nodes.push(qSide.mul, kSide.mul, ...q.nodes, ...kSide.extra, ...k.nodes, ...v.nodes);

    const out = this.merge(pv, heads, batch, v.target[3]!);
    if (!out) return undefined;
    nodes.push(...out);
    return { q: q.src, k: k.src, v: v.src, heads, ...(scale === undefined ? {} : { scale }), nodes };
  }

  /** Mul(x, factor) in either order, x matched by `inner`. */
  private scaled<T>(value: string, inner: (v: string) => T | undefined) {
    const mul = this.producer(value);
    if (mul?.opType !== 'Mul') return undefined;
    for (const side of [0, 1]) {
      const x = inner(mul.inputs[side]!);
      if (!x) continue;
      const factor = this.factor(mul.inputs[1 - side]!);
      return factor && { mul, factor, ...x };
    }
    return undefined;
  }

  /** kᵀ: Transpose(0132) of a head split, or the fused Transpose(0231) of the Reshape. */
  private keyTransposed(value: string): { split: Split; extra: OnnxNode[] } | undefined {
    const t = this.producer(value);
    if (t?.opType !== 'Transpose') return undefined;
    if (sameInts(perm(t), [0, 1, 3, 2])) {
      const split = this.split(t.inputs[0]!, [0, 2, 1, 3]);
      return split && { split, extra: [t] };
    }
    const split = this.split(value, [0, 2, 3, 1]);
    return split && { split, extra: [] };
  }

  /** Transpose(Reshape(src, target), perm) with a 4-element target. */
  private split(value: string, p: number[]): Split | undefined {
    const t = this.producer(value);
    if (t?.opType !== 'Transpose' || !sameInts(perm(t), p)) return undefined;
    const r = this.producer(t.inputs[0]!);
    if (r?.opType !== 'Reshape' || allowZero(r)) return undefined;
    const target = this.shapes.vector(r.inputs[1]!);
    if (target?.length !== 4) return undefined;
    return { src: r.inputs[0]!, target, nodes: [t, r] };
  }

  /**
   * dim 0 of src under the names of the tensors it was computed from with dim 0 kept (diffusers
   * reads the batch off hidden_states / encoder_hidden_states, not off q, k, v): a MatMul with a
   * 2-D weight, a 1-D bias Add, a Transpose keeping axis 0, a Cast.
   */
  private batchAliases(src: string): Sym[] {
    const names = [dimOf(src, 0)];
    const rankOf = (v: string) => this.g.model.initializers.get(v)?.dims.length;
    for (let cur = src, depth = 0; depth < 8; depth++) {
      const n = this.producer(cur);
      let prev: string | undefined;
      if (n?.opType === 'MatMul' && rankOf(n.inputs[1]!) === 2) prev = n.inputs[0];
      else if (n?.opType === 'Add') prev = rankOf(n.inputs[1]!) === 1 ? n.inputs[0] : rankOf(n.inputs[0]!) === 1 ? n.inputs[1] : undefined;
      else if (n?.opType === 'Transpose') prev = perm(n)?.[0] === 0 ? n.inputs[0] : undefined;
      else if (n?.opType === 'Cast' || n?.opType === 'Identity') prev = n.inputs[0];
      if (!prev) break;
      names.push(dimOf(prev, 0));
      cur = prev;
    }
    return names;
  }

  /** The head count all three splits name as a constant. */
  private heads(...splits: Split[]): number | undefined {
    const h = splits[0]!.target[2]!;
    if (!/^\d+$/.test(h) || Number(h) < 1 || splits.some((s) => s.target[2] !== h)) return undefined;
    return Number(h);
  }

  /** [B, S, h, d]: B one of the batches (or 0), S its own (0, or one -1), d one of the head sizes. */
  private targetOk(s: Split, batch: Sym[], head: Sym[]): boolean {
    const [b, seq, , d] = s.target as [Sym, Sym, Sym, Sym];
    let inferred = 0;
    const one = (x: Sym, ok: boolean) => ok || (x === '-1' && ++inferred === 1);
    return one(b, b === '0' || batch.includes(b)) && one(seq, seq === '0' || seq === dimOf(s.src, 1)) && one(d, head.includes(d));
  }

  /** MatMul(p, v4) → Transpose(0213) → Reshape([B, -1, h·d]); d the value head size. */
  private merge(pv: OnnxNode, heads: number, batch: Sym[], vHead: Sym): OnnxNode[] | undefined {
    const t = consumerOfType(this.g, pv, 'Transpose');
    if (!t || !sameInts(perm(t), [0, 2, 1, 3])) return undefined;
    const r = consumerOfType(this.g, t, 'Reshape');
    if (!r || r.inputs[0] !== t.outputs[0] || allowZero(r)) return undefined;
    const target = this.shapes.vector(r.inputs[1]!);
    if (target?.length !== 3) return undefined;
    const [b, s, hd] = target as [Sym, Sym, Sym];
    let inferred = 0;
    const one = (x: Sym, ok: boolean) => ok || (x === '-1' && ++inferred === 1);
    if (!(one(b, b === '0' || batch.includes(b)) && one(s, s === '0') && one(hd, hd === symMul(String(heads), vHead)))) return undefined;
    return [t, r];
  }

  /** Evaluates a scale factor: constants, Sqrt, Div, Mul, float Casts and torch's size(-1). */
  private factor(value: string, depth = 0): Factor | undefined {
    if (depth > 16) return undefined;
    const c = scalarConstant(this.g.model, value);
    if (c !== undefined) return { c, p: 0 };
    const n = this.producer(value);
    if (!n) return undefined;
    switch (n.opType) {
      case 'Cast': {
        if (!isFloatCast(n)) return undefined;
        const size = this.shapes.vector(n.inputs[0]!);
        if (size) return size.length === 1 ? (/^\d+$/.test(size[0]!) ? { c: Number(size[0]), p: 0 } : { c: 1, p: 1, d: size[0]! }) : undefined;
        return this.factor(n.inputs[0]!, depth + 1);
      }
      case 'Identity':
        return this.factor(n.inputs[0]!, depth + 1);
      case 'Sqrt': {
        const x = this.factor(n.inputs[0]!, depth + 1);
        return x && x.c >= 0 ? { ...x, c: Math.sqrt(x.c), p: x.p / 2 } : undefined;
      }
      case 'Mul':
      case 'Div': {
        const [a, b] = n.inputs.map((i) => this.factor(i, depth + 1));
        if (!a || !b) return undefined;
        return n.opType === 'Mul' ? combine(a, b, (x, y) => x + y, (x, y) => x * y) : combine(a, b, (x, y) => x - y, (x, y) => x / y);
      }
      default:
        return undefined;
    }
  }

  private producer(value: string): OnnxNode | undefined {
    return this.g.model.producers.get(value);
  }
}

/** a ∘ b for factors of the same size symbol (or a number). */
function combine(a: Factor, b: Factor, pow: (x: number, y: number) => number, num: (x: number, y: number) => number): Factor | undefined {
  if (a.d !== undefined && b.d !== undefined && a.d !== b.d) return undefined;
  const p = pow(a.p, b.p);
  const d = a.d ?? b.d;
  return p === 0 || d === undefined ? { c: num(a.c, b.c), p: 0 } : { c: num(a.c, b.c), p, d };
}
