// transformers' CLIPTextModel / CLIPTextModelWithProjection as an ONNX graph with the
// Optimum export's interface: every hidden state is an output (SDXL takes the penultimate),
// plus the pooled output (text_encoder) or its projection `text_embeds` (text_encoder_2).
import { DT } from './graph-builder.js';
import { ModuleGraph, type FloatType } from './layers.js';
import { num, type ClipTextConfig } from './configs.js';

export interface ClipGraphOptions {
  floatType: FloatType;
  /** true: CLIPTextModelWithProjection (text_embeds first, as Optimum orders the outputs). */
  withProjection: boolean;
  /** Declared type of input_ids: Optimum exports text_encoder with int32, text_encoder_2 with int64. */
  idsType: typeof DT.INT32 | typeof DT.INT64;
}

export function buildClipGraph(cfg: ClipTextConfig, opts: ClipGraphOptions): ModuleGraph {
  const g = new ModuleGraph(opts.floatType);
  const ft = opts.floatType;
  const H = cfg.hidden_size;
  const heads = cfg.num_attention_heads;
  const d = H / heads;
  const eps = num(cfg.layer_norm_eps, 1e-5);
  const maxPos = cfg.max_position_embeddings;
  const ids = g.input({ name: 'input_ids', elemType: opts.idsType, dims: ['batch_size', 'sequence_length'] });
  const shape = g.op('Shape', [ids]);
  const batch = g.op('Slice', [shape, g.i64([0]), g.i64([1])]);
  const seq = g.op('Slice', [shape, g.i64([1]), g.i64([2])]);
  const out3d = g.op('Concat', [batch, seq, g.i64([H])], { axis: 0 });

  let x = g.scope('text_model', () =>
    g.scope('embeddings', () => {
      const tok = g.scope('token_embedding', () => g.op('Gather', [g.param('weight', [cfg.vocab_size, H]), ids]));
      const pos = g.scope('position_embedding', () => g.op('Slice', [g.param('weight', [maxPos, H]), g.i64([0]), seq]));
      return g.op('Add', [tok, pos]);
    }),
  );
  // Causal mask as transformers builds it (dtype min above the diagonal), cut to [S, S].
  const minVal = ft === DT.FLOAT ? -3.4028234663852886e38 : -65504;
  const mask = new Float32Array(maxPos * maxPos);
  for (let i = 0; i < maxPos; i++) for (let j = i + 1; j < maxPos; j++) mask[i * maxPos + j] = minVal;
  const causal = g.op('Slice', [g.float(mask, [maxPos, maxPos], ft), g.i64([0, 0]), g.op('Concat', [seq, seq], { axis: 0 }), g.i64([0, 1])]);

  const hidden: string[] = [x];
  x = g.op('Reshape', [x, g.i64([-1, H])]);
  const headShape = g.op('Concat', [batch, g.i64([-1, heads, d])], { axis: 0 });
  const act = (v: string) => (cfg.hidden_act === 'quick_gelu' ? g.quickGelu(v) : cfg.hidden_act === 'gelu' ? g.gelu(v) : unsupported(cfg.hidden_act));
  g.scope('text_model', () =>
    g.scope('encoder', () => {
      for (let l = 0; l < cfg.num_hidden_layers; l++) {
        x = g.scope(`layers.${l}`, () => {
          const n = g.scope('layer_norm1', () => g.layerNorm(x, H, eps));
          const attn = g.scope('self_attn', () => {
            const q = g.op('Mul', [g.scope('q_proj', () => g.linear(n, H, H)), g.scalar(d ** -0.5)]);
            const k = g.scope('k_proj', () => g.linear(n, H, H));
            const v = g.scope('v_proj', () => g.linear(n, H, H));
            const q4 = g.op('Transpose', [g.op('Reshape', [q, headShape])], { perm: [0, 2, 1, 3] });
            const kT = g.op('Transpose', [g.op('Reshape', [k, headShape])], { perm: [0, 2, 3, 1] });
            const v4 = g.op('Transpose', [g.op('Reshape', [v, headShape])], { perm: [0, 2, 1, 3] });
            const scores = g.op('Add', [g.op('MatMul', [q4, kT]), causal]);
            const o = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v4]);
            const flat = g.op('Reshape', [g.op('Transpose', [o], { perm: [0, 2, 1, 3] }), g.i64([-1, H])]);
            return g.scope('out_proj', () => g.linear(flat, H, H));
          });
          const h = g.op('Add', [x, attn]);
          const n2 = g.scope('layer_norm2', () => g.layerNorm(h, H, eps));
          const mlp = g.scope('mlp', () => {
            const f = g.scope('fc1', () => g.linear(n2, H, cfg.intermediate_size));
            return g.scope('fc2', () => g.linear(act(f), cfg.intermediate_size, H));
          });
          return g.op('Add', [h, mlp]);
        });
        hidden.push(g.op('Reshape', [x, out3d]));
      }
    }),
  );
  const finalFlat = g.scope('text_model', () => g.scope('final_layer_norm', () => g.layerNorm(x, H, eps)));
  const last = g.op('Reshape', [finalFlat, out3d]);
  // Pooled token: legacy SDXL configs (eos_token_id 2) take argmax(ids) (the highest id is the
  // first <|endoftext|>); newer ones the first position of eos_token_id.
  const eos = num(cfg.eos_token_id, 2);
  const idsF = g.op('Cast', [ids], { to: DT.FLOAT });
  const scored = eos === 2 ? idsF : g.op('Cast', [g.op('Equal', [g.op('Cast', [ids], { to: DT.INT64 }), g.i64([eos], [])])], { to: DT.FLOAT });
  const pos = g.op('ArgMax', [scored], { axis: 1, keepdims: 0 });
  const seqScalar = g.op('Squeeze', [seq, g.i64([0])]);
  const rowStart = g.op('Mul', [g.op('Range', [g.i64([0], []), g.op('Squeeze', [batch, g.i64([0])]), g.i64([1], [])]), seqScalar]);
  const pooled = g.op('Gather', [finalFlat, g.op('Add', [rowStart, pos])], { axis: 0 });

  if (opts.withProjection) {
    const P = num(cfg.projection_dim, H);
    const textEmbeds = g.scope('text_projection', () => g.linear(pooled, H, P, false));
    g.output(textEmbeds, { name: 'text_embeds', elemType: ft, dims: ['batch_size', P] });
    g.output(last, { name: 'last_hidden_state', elemType: ft, dims: ['batch_size', 'sequence_length', H] });
  } else {
    g.output(last, { name: 'last_hidden_state', elemType: ft, dims: ['batch_size', 'sequence_length', H] });
    g.output(pooled, { name: 'pooler_output', elemType: ft, dims: ['batch_size', H] });
  }
  hidden.forEach((h, i) => g.output(h, { name: `hidden_states.${i}`, elemType: ft, dims: ['batch_size', 'sequence_length', H] }));
  return g;
}

function unsupported(act: string): never {
  throw new Error(`unsupported text-encoder activation ${act}`);
}
