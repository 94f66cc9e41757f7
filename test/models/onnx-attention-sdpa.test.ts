// Attention as torch ≥ 2.0 exports diffusers' AttnProcessor2_0 (scaled_dot_product_attention on
// 4-D heads, symbolic_opset14) is rewritten into MultiHeadAttention; near misses are left alone.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildModel, type TinyNode, type TinyTensor } from './helpers/tiny-onnx.js';
import { parseOnnxModel, DT_FLOAT } from '../../server/models/onnx-graph.js';
import { rewriteAttention } from '../../server/models/onnx-attention.js';
import { concat } from '../../server/models/protobuf.js';

const DT_INT64 = 7;
const opts = { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 as const };

interface Variant {
  /** Cross-attention: k, v from `ctx` (another length and width); batch taken from ctx as diffusers does. */
  cross: boolean;
  /** `shape`: torch's _attention_scale from Shape(q); `folded`: √scale as a constant. */
  scale: 'shape' | 'folded';
  heads: number;
  headDim: number;
  /** Torch's peephole fused Transpose(0213)·Transpose(0132) of the key into Transpose(0231). */
  fusedKeyTranspose?: boolean;
  /** Trailing Cast of the scale (newer torch). */
  scaleCast?: boolean;
  /** Near misses. */
  causalMask?: boolean;
  outPerm?: number[];
  slice?: [number, number];
}

const C = 48;
const CTX = 40;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function f32(name: string, dims: number[], values: number[]): TinyTensor {
  return { name, dims, dataType: DT_FLOAT, data: new Uint8Array(Float32Array.from(values).buffer) };
}
function i64(name: string, dims: number[], values: (number | bigint)[]): TinyTensor {
  return { name, dims, dataType: DT_INT64, data: new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer) };
}

/** The graph torch.onnx exports for one AttnProcessor2_0 call, followed by to_out's MatMul. */
function sdpaModel(v: Variant): Uint8Array {
  const { heads: h, headDim: d } = v;
  const D = h * d;
  const r = rng(7);
  const w = (n: number) => Array.from({ length: n }, () => r() * 0.4);
  const kvIn = v.cross ? 'ctx' : 'x';
  const kvWidth = v.cross ? CTX : C;
  const n = (name: string, op: string, inputs: string[], outputs: string[], extra: Partial<TinyNode> = {}): TinyNode => ({ name, op, inputs, outputs, ...extra });
  const nodes: TinyNode[] = [
    n('/to_q/MatMul', 'MatMul', ['x', 'Wq'], ['q']),
    n('/to_k/MatMul', 'MatMul', [kvIn, 'Wk'], ['k']),
    n('/to_v/MatMul', 'MatMul', [kvIn, 'Wv'], ['v']),
    // batch_size = (encoder_)hidden_states.shape[0]; head_dim = key.shape[-1] // heads
    n('/Shape', 'Shape', [kvIn], ['shape_b']),
    n('/Gather', 'Gather', ['shape_b', 'idx0'], ['batch']),
    n('/Shape_1', 'Shape', ['k'], ['shape_k']),
    n('/Gather_1', 'Gather', ['shape_k', 'idx2'], ['inner']),
    n('/Div', 'Div', ['inner', 'heads'], ['head_dim']),
    n('/Unsqueeze', 'Unsqueeze', ['batch', 'axes0'], ['batch_1']),
    n('/Unsqueeze_1', 'Unsqueeze', ['head_dim', 'axes0'], ['head_dim_1']),
    n('/Concat', 'Concat', ['batch_1', 'minus1', 'heads_1', 'head_dim_1'], ['split_shape'], { ints: { axis: 0 } }),
  ];
  for (const x of ['q', 'k', 'v']) {
    nodes.push(n(`/Reshape_${x}`, 'Reshape', [x, 'split_shape'], [`${x}_r`]));
    if (x === 'k' && v.fusedKeyTranspose) nodes.push(n('/Transpose_k', 'Transpose', ['k_r'], ['k_t'], { intLists: { perm: [0, 2, 3, 1] } }));
    else nodes.push(n(`/Transpose_${x}`, 'Transpose', [`${x}_r`], [`${x}4`], { intLists: { perm: [0, 2, 1, 3] } }));
  }
  if (!v.fusedKeyTranspose) nodes.push(n('/sdpa/Transpose', 'Transpose', ['k4'], ['k_t'], { intLists: { perm: [0, 1, 3, 2] } }));
  const initializers: TinyTensor[] = [
    f32('Wq', [C, D], w(C * D)),
    f32('Wk', [kvWidth, D], w(kvWidth * D)),
    f32('Wv', [kvWidth, D], w(kvWidth * D)),
    f32('Wo', [D, C], w(D * C)),
    i64('idx0', [], [0]),
    i64('idx2', [], [2]),
    i64('heads', [], [h]),
    i64('axes0', [1], [0]),
    i64('minus1', [1], [-1]),
    i64('heads_1', [1], [h]),
  ];
  if (v.scale === 'shape') {
    // symbolic_opset14._attention_scale: 1 / sqrt(Cast(Slice(Shape(query), -1, INT64_MAX)))
    nodes.push(
      n('/sdpa/Shape', 'Shape', ['q4'], ['q_shape']),
      n('/sdpa/Slice', 'Slice', ['q_shape', 'start', 'end'], ['q_last']),
      n('/sdpa/Cast', 'Cast', ['q_last'], ['embed'], { ints: { to: DT_FLOAT } }),
      n('/sdpa/Sqrt', 'Sqrt', ['embed'], ['embed_sqrt']),
      n('/sdpa/Div', 'Div', ['one', 'embed_sqrt'], [v.scaleCast ? 'scale_f' : 'scale']),
      ...(v.scaleCast ? [n('/sdpa/Cast_1', 'Cast', ['scale_f'], ['scale'], { ints: { to: DT_FLOAT } })] : []),
      n('/sdpa/Sqrt_1', 'Sqrt', ['scale'], ['sq']),
      n('/sdpa/Sqrt_2', 'Sqrt', ['scale'], ['sk']),
    );
    initializers.push(i64('start', [1], [v.slice?.[0] ?? -1]), i64('end', [1], [v.slice?.[1] ?? 9223372036854775807n]), f32('one', [1], [1]));
  } else initializers.push(f32('sq', [], [Math.sqrt(1 / Math.sqrt(d))]), f32('sk', [], [Math.sqrt(1 / Math.sqrt(d))]));
  nodes.push(
    n('/sdpa/Mul', 'Mul', ['q4', 'sq'], ['q_s']),
    n('/sdpa/Mul_1', 'Mul', ['k_t', 'sk'], ['k_s']),
    n('/sdpa/MatMul', 'MatMul', ['q_s', 'k_s'], ['scores']),
  );
  if (v.causalMask) {
    // A float mask, as _causal_attention_mask would add (here for 16 query and key tokens).
    nodes.push(n('/sdpa/Add', 'Add', ['scores', 'mask'], ['masked']));
    initializers.push(f32('mask', [16, 16], Array.from({ length: 256 }, (_, i) => (i % 16 > Math.floor(i / 16) ? -1e9 : 0))));
  }
  nodes.push(
    n('/sdpa/Softmax', 'Softmax', [v.causalMask ? 'masked' : 'scores'], ['probs'], { ints: { axis: -1 } }),
    n('/sdpa/MatMul_1', 'MatMul', ['probs', 'v4'], ['o4']),
    // hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
    n('/Transpose_o', 'Transpose', ['o4'], ['o_t'], { intLists: { perm: v.outPerm ?? [0, 2, 1, 3] } }),
    n('/Mul_hd', 'Mul', ['heads', 'head_dim'], ['hd']),
    n('/Unsqueeze_2', 'Unsqueeze', ['hd', 'axes0'], ['hd_1']),
    n('/Concat_1', 'Concat', ['batch_1', 'minus1', 'hd_1'], ['merge_shape'], { ints: { axis: 0 } }),
    n('/Reshape_o', 'Reshape', ['o_t', 'merge_shape'], ['o']),
    n('/to_out/MatMul', 'MatMul', ['o', 'Wo'], ['y']),
  );
  return buildModel({
    nodes,
    initializers,
    inputs: [{ name: 'x', elemType: DT_FLOAT, dims: ['B', 'S', C] }, ...(v.cross ? [{ name: 'ctx', elemType: DT_FLOAT, dims: ['B', 'L', CTX] }] : [])],
    outputs: [{ name: 'y', elemType: DT_FLOAT, dims: ['B', 'S', C] }],
    opset: 17,
  });
}

async function maxDiff(a: Uint8Array, b: Uint8Array, cross: boolean): Promise<number> {
  const r = rng(11);
  const t = (dims: number[]) => new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((x, y) => x * y) }, () => 2 * r()), dims);
  const feeds: Record<string, ort.Tensor> = { x: t([2, 16, C]), ...(cross ? { ctx: t([2, 7, CTX]) } : {}) };
  const [ya, yb] = await Promise.all([a, b].map(async (m) => (await (await ort.InferenceSession.create(m, opts)).run(feeds)).y!.data as Float32Array));
  expect(yb!.length).toBe(ya!.length);
  return ya!.reduce((m, x, i) => Math.max(m, Math.abs(x - yb![i]!)), 0);
}

describe('fused attention for torch 2.x (scaled_dot_product_attention) exports', () => {
  const cases: [string, Variant][] = [
    ['self, scale from Shape(q)', { cross: false, scale: 'shape', heads: 2, headDim: 64 }],
    ['self, scale from Shape(q) with the trailing Cast, fused key transpose', { cross: false, scale: 'shape', heads: 4, headDim: 32, scaleCast: true, fusedKeyTranspose: true }],
    ['cross (7 keys of width 40), folded scale', { cross: true, scale: 'folded', heads: 2, headDim: 64 }],
    ['cross, scale from Shape(q)', { cross: true, scale: 'shape', heads: 2, headDim: 64 }],
  ];
  for (const [name, v] of cases)
    it(`rewrites ${name}; outputs equal within 1e-5`, async () => {
      const bytes = sdpaModel(v);
      const r = rewriteAttention(parseOnnxModel(bytes, ''));
      expect(r).toMatchObject({ rewritten: 1, left: 0 });
      const fused = concat(r.chunks!);
      const m = parseOnnxModel(fused, '');
      expect(m.nodes.map((x) => x.opType).sort()).toEqual(['MatMul', 'MatMul', 'MatMul', 'MatMul', 'MultiHeadAttention']);
      const mha = m.nodes.find((x) => x.opType === 'MultiHeadAttention')!;
      expect(mha.inputs).toEqual(['q', 'k', 'v']);
      expect(mha.attributes.find((a) => a.name === 'num_heads')?.i).toBe(v.heads);
      // A folded scale is written out; one computed from the shape is MHA's default 1/√d.
      const scale = mha.attributes.find((a) => a.name === 'scale')?.f;
      if (v.scale === 'folded') expect(scale).toBeCloseTo(1 / Math.sqrt(v.headDim), 6);
      else expect(scale).toBeUndefined();
      expect(await maxDiff(bytes, fused, v.cross)).toBeLessThanOrEqual(1e-5);
    });

  it('leaves near misses alone: a causal mask, a wrong output perm, a scale from the (unproven) sequence length', async () => {
    const base: Variant = { cross: false, scale: 'shape', heads: 2, headDim: 64 };
    for (const v of [{ ...base, causalMask: true }, { ...base, outPerm: [0, 1, 2, 3] }, { ...base, slice: [-2, -1] as [number, number] }, { ...base, scale: 'folded' as const, causalMask: true }]) {
      const bytes = sdpaModel(v);
      const r = rewriteAttention(parseOnnxModel(bytes, ''));
      expect(r, JSON.stringify(v)).toMatchObject({ rewritten: 0, left: 1 });
      expect(r.chunks).toBeUndefined();
      await ort.InferenceSession.create(bytes, opts); // the near miss is itself a valid graph
    }
  });
});
