// The PyTorch layers SDXL is made of, as ONNX subgraphs. Parameters are named by module path
// (the builder's scope) and resolved against a WeightSource only when the graph is complete,
// so a source may need the whole module list first (SGM block numbering) and every missing
// key or shape contradiction is reported at once.
import { NodeError } from '../engine/errors.js';
import { DT, GraphBuilder } from './graph-builder.js';
import { type WeightRef, type WeightSource } from './weights.js';

export type FloatType = typeof DT.FLOAT | typeof DT.FLOAT16;

/**
 * How attention is computed (chosen in server/models/inference-options.ts; part of the
 * compile key). All three are exact up to float rounding:
 *  - `mha`: onnxruntime's com.microsoft MultiHeadAttention: on CPU a flash-attention kernel
 *    (MLAS, online softmax over key blocks) that never holds the S×S' score matrix; on CUDA
 *    flash / memory-efficient attention where the head size allows, else ORT's unfused path.
 *  - `chunked`: diffusers' sliced attention in the graph: queries are cut into 16 slices of
 *    at least `chunkTokens` rows, so B·H·max(chunkTokens, S/16)·S' scores live at once.
 *  - `full`: softmax(q·kᵀ·scale)·v as whole matrices (B·H·S·S' floats, twice).
 */
export interface AttentionOptions {
  impl: 'mha' | 'chunked' | 'full';
  /** Minimum query rows per slice for `chunked`. */
  chunkTokens: number;
}

export const DEFAULT_ATTENTION: AttentionOptions = { impl: 'mha', chunkTokens: 1024 };

/** Query slices of `chunked` attention (a static count; their size follows the sequence). */
const MAX_CHUNKS = 16;

interface ParamUse {
  /** PyTorch shape the config implies. */
  expect: number[];
  /** Dims the graph uses (same element count), e.g. [C, 1, 1] for norm affine. */
  as: number[];
}

const STORED_TYPE: Record<string, number> = { F32: DT.FLOAT, F16: DT.FLOAT16, BF16: DT.BFLOAT16 };

export interface ResolveReport {
  /** Parameters and the bytes they occupy once converted to the compute type. */
  params: number;
  computeBytes: number;
  /** Files the graph points into (absolute paths). */
  files: string[];
  /** Keys of those files the graph reads. */
  usedKeys: Set<string>;
}

export class ModuleGraph extends GraphBuilder {
  private readonly params = new Map<string, ParamUse>();

  constructor(
    readonly floatType: FloatType,
    readonly attentionOptions: AttentionOptions = DEFAULT_ATTENTION,
  ) {
    super(17);
  }

  /** A parameter of the current module, e.g. param('weight', [out, in]). */
  param(leaf: string, expect: number[], as: number[] = expect): string {
    const name = this.modulePath ? `${this.modulePath}.${leaf}` : leaf;
    const prev = this.params.get(name);
    if (prev && prev.expect.join() !== expect.join()) throw new Error(`parameter ${name} used with two shapes`);
    this.params.set(name, { expect, as });
    return name;
  }

  paramNames(): string[] {
    return [...this.params.keys()];
  }

  /** Every parameter with the PyTorch shape the configuration implies. */
  paramShapes(): [string, number[]][] {
    return [...this.params].map(([n, u]) => [n, u.expect]);
  }

  // ── layers (call inside the module's scope) ─────────────────────────────────

  /** nn.Linear on a 2-D input [N, in] -> [N, out]; weight stays [out, in] (Gemm transB). */
  linear(x: string, inF: number, outF: number, bias = true): string {
    const w = this.param('weight', [outF, inF]);
    const inputs = bias ? [x, w, this.param('bias', [outF])] : [x, w];
    return this.op('Gemm', inputs, { transB: 1 });
  }

  conv(x: string, inC: number, outC: number, k: number, opts: { stride?: number; pad?: number } = {}): string {
    const pad = opts.pad ?? (k >> 1);
    const w = this.param('weight', [outC, inC, k, k]);
    const b = this.param('bias', [outC]);
    return this.op('Conv', [x, w, b], { kernel_shape: [k, k], strides: [opts.stride ?? 1, opts.stride ?? 1], pads: [pad, pad, pad, pad] });
  }

  /** torch.nn.GroupNorm on NCHW via InstanceNormalization over [N, G, -1]. */
  groupNorm(x: string, channels: number, groups: number, eps: number): string {
    const grouped = this.op('Reshape', [x, this.i64([0, groups, -1])]);
    const ones = this.float(new Float32Array(groups).fill(1), [groups], this.floatType);
    const zeros = this.float(new Float32Array(groups), [groups], this.floatType);
    const normed = this.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { float: eps } });
    const back = this.op('Reshape', [normed, this.op('Shape', [x])]);
    const scaled = this.op('Mul', [back, this.param('weight', [channels], [channels, 1, 1])]);
    return this.op('Add', [scaled, this.param('bias', [channels], [channels, 1, 1])]);
  }

  layerNorm(x: string, channels: number, eps: number): string {
    return this.op('LayerNormalization', [x, this.param('weight', [channels]), this.param('bias', [channels])], { axis: -1, epsilon: { float: eps } });
  }

  silu(x: string): string {
    return this.op('Mul', [x, this.op('Sigmoid', [x])]);
  }

  /** Exact (erf) GELU; ORT fuses the pattern into one kernel. */
  gelu(x: string): string {
    const t = this.op('Erf', [this.op('Div', [x, this.scalar(Math.SQRT2)])]);
    return this.op('Mul', [this.op('Mul', [x, this.op('Add', [t, this.scalar(1)])]), this.scalar(0.5)]);
  }

  quickGelu(x: string): string {
    return this.op('Mul', [x, this.op('Sigmoid', [this.op('Mul', [x, this.scalar(1.702)])])]);
  }

  scalar(v: number): string {
    return this.float([v], [], this.floatType);
  }

  /**
   * softmax(q·kᵀ·scale)·v per head for tokens q [B, S, H·d], k and v [B, S', H·d];
   * returns [B, S, H·d]. Implementation per `attentionOptions`.
   */
  attention(q: string, k: string, v: string, heads: number, scale: number): string {
    if (this.attentionOptions.impl === 'mha')
      return this.op('MultiHeadAttention', [q, k, v], { num_heads: heads, scale: { float: scale } }, undefined, 1, 'com.microsoft');
    const C = this.op('Slice', [this.op('Shape', [q]), this.i64([2]), this.i64([3])]);
    const split = this.op('Concat', [this.i64([0, -1, heads]), this.op('Div', [C, this.i64([heads])])], { axis: 0 });
    const q4 = this.op('Transpose', [this.op('Reshape', [q, split])], { perm: [0, 2, 1, 3] });
    const kT = this.op('Transpose', [this.op('Reshape', [k, split])], { perm: [0, 2, 3, 1] });
    const v4 = this.op('Transpose', [this.op('Reshape', [v, split])], { perm: [0, 2, 1, 3] });
    const o = this.attentionOps(q4, kT, v4, scale);
    return this.op('Reshape', [this.op('Transpose', [o], { perm: [0, 2, 1, 3] }), this.op('Shape', [q])]);
  }

  /** softmax(q kᵀ · scale) v for q [B, H, S, d], kT [B, H, d, S'], v [B, H, S', d]. */
  private attentionOps(q: string, kT: string, v: string, scale: number): string {
    const core = (qs: string) => this.op('MatMul', [this.op('Softmax', [this.op('MatMul', [this.op('Mul', [qs, this.scalar(scale)]), kT])], { axis: -1 }), v]);
    if (this.attentionOptions.impl !== 'chunked') return core(q);
    // Query slices [i·c, (i+1)·c) with c = max(chunkTokens, ⌈S / MAX_CHUNKS⌉), the last one
    // to the end; slices past S are empty.
    const S = this.op('Slice', [this.op('Shape', [q]), this.i64([2]), this.i64([3])]);
    const even = this.op('Div', [this.op('Add', [S, this.i64([MAX_CHUNKS - 1])]), this.i64([MAX_CHUNKS])]);
    const c = this.op('Max', [even, this.i64([this.attentionOptions.chunkTokens])]);
    const parts = Array.from({ length: MAX_CHUNKS }, (_, i) => {
      const start = this.op('Mul', [c, this.i64([i])]);
      const end = i === MAX_CHUNKS - 1 ? this.i64([2 ** 62]) : this.op('Mul', [c, this.i64([i + 1])]);
      return core(this.op('Slice', [q, start, end, this.i64([2])]));
    });
    return this.op('Concat', parts, { axis: 2 });
  }

  // ── weights ──────────────────────────────────────────────────────────────────

  /**
   * Points every parameter at its bytes. `location(file)` names the external-data file
   * relative to the model's folder. Throws one error listing every missing tensor and
   * every shape that contradicts the configuration.
   */
  resolve(source: WeightSource, location: (file: string) => string, component: string): ResolveReport {
    const missing: string[] = [];
    const wrong: string[] = [];
    const refs = new Map<string, WeightRef>();
    source.prepare?.(this.paramNames());
    for (const [name, use] of this.params) {
      const ref = source.get(name);
      if (!ref) {
        const key = source.keyOf?.(name);
        missing.push(key && key !== name ? key : name);
        continue;
      }
      const stored = ref.transposed ? [...ref.shape].reverse() : ref.shape;
      const count = (d: number[]) => d.reduce((a, b) => a * b, 1);
      // 1x1 convs stored as linear weights and vice versa (VAE attention) match by element count.
      const same = stored.join() === use.expect.join() || (stored.length !== use.expect.length && count(stored) === count(use.expect) && stored[0] === use.expect[0]);
      if (!same) wrong.push(`${ref.key} is ${JSON.stringify(ref.shape)} but the configuration needs ${JSON.stringify(use.expect)}`);
      else if (!(ref.dtype in STORED_TYPE)) wrong.push(`${ref.key} has dtype ${ref.dtype}; weights must be F32, F16 or BF16`);
      refs.set(name, ref);
    }
    if (missing.length || wrong.length) {
      const parts = [
        missing.length ? `missing ${missing.length} tensor(s): ${listSome(missing)}` : '',
        wrong.length ? `${wrong.length} tensor(s) do not fit: ${listSome(wrong)}` : '',
      ].filter(Boolean);
      throw new NodeError('checkpoint_mismatch', `${source.label}: ${component} ${parts.join('; ')}`, { component, missing, mismatched: wrong });
    }
    const files = new Set<string>();
    let computeBytes = 0;
    let count = 0;
    this.prelude(() => {
      for (const [name, use] of this.params) {
        const ref = refs.get(name)!;
        files.add(ref.file);
        const storedType = STORED_TYPE[ref.dtype]!;
        const stored = ref.transposed ? ref.shape : use.as;
        const n = use.as.reduce((a, b) => a * b, 1);
        count += n;
        computeBytes += n * (this.floatType === DT.FLOAT ? 4 : 2);
        const ext = { location: location(ref.file), offset: ref.offset, length: ref.byteLength };
        const needsCast = storedType !== this.floatType;
        if (!needsCast && !ref.transposed) {
          this.external(name, stored, storedType, ext);
          continue;
        }
        let v = this.external(`${name}::stored`, stored, storedType, ext);
        // Constant-folded by ORT at session creation: no per-run cost.
        if (needsCast) v = this.op('Cast', [v], { to: this.floatType }, ref.transposed ? undefined : name);
        if (ref.transposed) this.op('Transpose', [v], { perm: [1, 0] }, name);
      }
    });
    return { params: count, computeBytes, files: [...files], usedKeys: new Set([...refs.values()].map((r) => r.key)) };
  }
}

function listSome(items: string[], n = 12): string {
  return items.length > n ? `${items.slice(0, n).join(', ')} … (+${items.length - n} more)` : items.join(', ');
}
