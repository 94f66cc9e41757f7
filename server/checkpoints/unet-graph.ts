// diffusers' UNet2DConditionModel (the SDXL variants: text_time addition embedding, linear
// projections in the transformers) as an ONNX graph with the Optimum export's inputs and
// outputs. Every size comes from the config; nothing assumes SDXL's widths.
import { DT } from './graph-builder.js';
import { ModuleGraph, type AttentionOptions, type FloatType } from './layers.js';
import { arrayPerBlock, num, type UnetConfig } from './configs.js';

export interface Ctx {
  g: ModuleGraph;
  /** silu(emb): every resnet projects the same activated embedding. */
  embAct: string;
  embDim: number;
  /** encoder_hidden_states as [B * seq, cross]. */
  context: string;
  crossDim: number;
  /** [1] int64: the batch size, for reshapes. */
  batch: string;
  groups: number;
  eps: number;
}

/** diffusers get_timestep_embedding, float32 (as diffusers computes it before casting). */
export function sinusoidalEmbedding(g: ModuleGraph, t: string, dim: number, flipSinToCos: boolean, shift: number): string {
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  const logMax = Math.fround(-Math.log(10000));
  for (let i = 0; i < half; i++) freqs[i] = Math.fround(Math.exp(Math.fround(Math.fround(logMax * i) / (half - shift))));
  const arg = g.op('Mul', [g.op('Unsqueeze', [t, g.i64([1])]), g.float(freqs, [1, half])]);
  const sin = g.op('Sin', [arg]);
  const cos = g.op('Cos', [arg]);
  let emb = g.op('Concat', flipSinToCos ? [cos, sin] : [sin, cos], { axis: -1 });
  if (dim % 2) emb = g.op('Pad', [emb, g.i64([0, 0, 0, 1])]);
  return emb;
}

function timestepEmbedding(g: ModuleGraph, name: string, x: string, inDim: number, outDim: number): string {
  return g.scope(name, () => {
    const h = g.scope('linear_1', () => g.linear(x, inDim, outDim));
    return g.scope('linear_2', () => g.linear(g.silu(h), outDim, outDim));
  });
}

function resnet(c: Ctx, x: string, inC: number, outC: number): string {
  const { g } = c;
  let h = g.scope('norm1', () => g.groupNorm(x, inC, c.groups, c.eps));
  h = g.scope('conv1', () => g.conv(g.silu(h), inC, outC, 3));
  const t = g.scope('time_emb_proj', () => g.linear(c.embAct, c.embDim, outC));
  h = g.op('Add', [h, g.op('Unsqueeze', [t, g.i64([2, 3])])]);
  h = g.scope('norm2', () => g.groupNorm(h, outC, c.groups, c.eps));
  h = g.scope('conv2', () => g.conv(g.silu(h), outC, outC, 3));
  const skip = inC !== outC ? g.scope('conv_shortcut', () => g.conv(x, inC, outC, 1)) : x;
  return g.op('Add', [skip, h]);
}

/** Multi-head attention on 2-D [B*S, C] tokens; context [B*S', ctxDim] or self-attention. */
export function attention(g: ModuleGraph, batch: string, x: string, dim: number, heads: number, context?: { value: string; dim: number }, bias = false): string {
  const d = dim / heads;
  const ctx = context ?? { value: x, dim };
  const q = g.scope('to_q', () => g.linear(x, dim, dim, bias));
  const k = g.scope('to_k', () => g.linear(ctx.value, ctx.dim, dim, bias));
  const v = g.scope('to_v', () => g.linear(ctx.value, ctx.dim, dim, bias));
  const bsc = g.op('Concat', [batch, g.i64([-1, dim])], { axis: 0 });
  const tokens = (t: string) => g.op('Reshape', [t, bsc]);
  const o = g.attention(tokens(q), tokens(k), tokens(v), heads, 1 / Math.sqrt(d));
  const flat = g.op('Reshape', [o, g.i64([-1, dim])]);
  return g.scope('to_out.0', () => g.linear(flat, dim, dim));
}

function transformerBlock(c: Ctx, h: string, dim: number, heads: number): string {
  const { g } = c;
  let n = g.scope('norm1', () => g.layerNorm(h, dim, 1e-5));
  h = g.op('Add', [g.scope('attn1', () => attention(g, c.batch, n, dim, heads)), h]);
  n = g.scope('norm2', () => g.layerNorm(h, dim, 1e-5));
  h = g.op('Add', [g.scope('attn2', () => attention(g, c.batch, n, dim, heads, { value: c.context, dim: c.crossDim })), h]);
  n = g.scope('norm3', () => g.layerNorm(h, dim, 1e-5));
  const inner = dim * 4;
  const ff = g.scope('ff', () => {
    const proj = g.scope('net.0', () => g.scope('proj', () => g.linear(n, dim, inner * 2)));
    const [hidden, gate] = g.opMulti('Split', [proj, g.i64([inner, inner])], { axis: -1 }, 2);
    return g.scope('net.2', () => g.linear(g.op('Mul', [hidden!, g.gelu(gate!)]), inner, dim));
  });
  return g.op('Add', [ff, h]);
}

/** Transformer2DModel with use_linear_projection (SDXL). */
function transformer2d(c: Ctx, x: string, channels: number, heads: number, depth: number): string {
  const { g } = c;
  const normed = g.scope('norm', () => g.groupNorm(x, channels, c.groups, 1e-6));
  const nhwc = g.op('Transpose', [normed], { perm: [0, 2, 3, 1] });
  const nhwcShape = g.op('Shape', [nhwc]);
  let h = g.op('Reshape', [nhwc, g.i64([-1, channels])]);
  h = g.scope('proj_in', () => g.linear(h, channels, channels));
  for (let i = 0; i < depth; i++) h = g.scope(`transformer_blocks.${i}`, () => transformerBlock(c, h, channels, heads));
  h = g.scope('proj_out', () => g.linear(h, channels, channels));
  const back = g.op('Transpose', [g.op('Reshape', [h, nhwcShape])], { perm: [0, 3, 1, 2] });
  return g.op('Add', [back, x]);
}

export interface UnetGraphOptions {
  floatType: FloatType;
  /** Width of text_embeds (text_encoder_2's projection_dim); the rest of the addition input is time ids. */
  pooledDim: number;
  /** How attention is computed (default: DEFAULT_ATTENTION). */
  attention?: AttentionOptions;
}

/** Names of the UNet's ControlNet inputs (diffusers' down/mid_block_additional_residual(s)). */
export const residualInput = (k: number) => `down_block_additional_residuals.${k}`;
export const MID_RESIDUAL = 'mid_block_additional_residual';
export const isResidualInput = (name: string) => name === MID_RESIDUAL || name.startsWith('down_block_additional_residuals.');

/** The blocks' per-level settings, from the config. */
function levels(cfg: UnetConfig) {
  const n = cfg.block_out_channels.length;
  const depth = arrayPerBlock(cfg.transformer_layers_per_block ?? 1, n, 'transformer_layers_per_block');
  return {
    n,
    layers: arrayPerBlock(cfg.layers_per_block, n, 'layers_per_block'),
    heads: arrayPerBlock(cfg.num_attention_heads ?? cfg.attention_head_dim, n, 'attention_head_dim'),
    depth,
    upDepth: cfg.reverse_transformer_layers_per_block ? arrayPerBlock(cfg.reverse_transformer_layers_per_block, n, 'reverse_transformer_layers_per_block') : [...depth].reverse(),
  };
}

export interface Trunk {
  c: Ctx;
  sample: string;
  /** The down blocks' outputs the up blocks consume (conv_in output first). */
  skips: { value: string; channels: number }[];
  /** Output of the last down block. */
  h: string;
}

/**
 * Inputs, time / text_time embeddings, conv_in and the down blocks: what the UNet and the
 * ControlNet share. `afterConvIn` lets the ControlNet add its conditioning embedding.
 */
export function buildTrunk(g: ModuleGraph, cfg: UnetConfig, opts: UnetGraphOptions, afterConvIn?: (h: string, batch: string) => string): Trunk {
  const ft = opts.floatType;
  const boc = cfg.block_out_channels;
  const { n: nBlocks, layers, heads, depth } = levels(cfg);
  const groups = num(cfg.norm_num_groups, 32);
  const eps = num(cfg.norm_eps, 1e-5);
  const embDim = num(cfg.time_embedding_dim, boc[0]! * 4);
  const crossDim = cfg.cross_attention_dim;
  const flip = cfg.flip_sin_to_cos !== false;
  const shift = num(cfg.freq_shift, 0);

  const sample = g.input({ name: 'sample', elemType: ft, dims: ['batch_size', 'num_channels', 'height', 'width'] });
  const timestep = g.input({ name: 'timestep', elemType: DT.INT64, dims: ['steps'] });
  const ehs = g.input({ name: 'encoder_hidden_states', elemType: ft, dims: ['batch_size', 'sequence_length', crossDim] });
  const pooledDim = opts.pooledDim;
  const timeIdWidth = (cfg.projection_class_embeddings_input_dim - pooledDim) / cfg.addition_time_embed_dim;
  if (!Number.isInteger(timeIdWidth) || timeIdWidth <= 0) throw new Error(`projection_class_embeddings_input_dim ${cfg.projection_class_embeddings_input_dim} does not fit pooled width ${pooledDim} + n × ${cfg.addition_time_embed_dim}`);
  const textEmbeds = g.input({ name: 'text_embeds', elemType: ft, dims: ['batch_size', pooledDim] });
  const timeIds = g.input({ name: 'time_ids', elemType: ft, dims: ['batch_size', timeIdWidth] });

  const batch = g.op('Slice', [g.op('Shape', [sample]), g.i64([0]), g.i64([1])]);
  // Time embedding: float32 sinusoids (diffusers computes them in float32), then the model dtype.
  const tFloat = g.op('Expand', [g.op('Cast', [timestep], { to: DT.FLOAT }), batch]);
  const toFt = (x: string) => (ft === DT.FLOAT ? x : g.op('Cast', [x], { to: ft }));
  const tProj = toFt(sinusoidalEmbedding(g, tFloat, boc[0]!, flip, shift));
  let emb = timestepEmbedding(g, 'time_embedding', tProj, boc[0]!, embDim);
  const idsFlat = g.op('Reshape', [g.op('Cast', [timeIds], { to: DT.FLOAT }), g.i64([-1])]);
  const timeEmb = g.op('Reshape', [toFt(sinusoidalEmbedding(g, idsFlat, cfg.addition_time_embed_dim, flip, shift)), g.op('Concat', [batch, g.i64([-1])], { axis: 0 })]);
  const addEmbeds = g.op('Concat', [textEmbeds, timeEmb], { axis: -1 });
  emb = g.op('Add', [emb, timestepEmbedding(g, 'add_embedding', addEmbeds, cfg.projection_class_embeddings_input_dim, embDim)]);

  const c: Ctx = { g, embAct: g.silu(emb), embDim, context: g.op('Reshape', [ehs, g.i64([-1, crossDim])]), crossDim, batch, groups, eps };

  let h = g.scope('conv_in', () => g.conv(sample, cfg.in_channels, boc[0]!, num(cfg.conv_in_kernel, 3)));
  if (afterConvIn) h = afterConvIn(h, batch);
  const skips: { value: string; channels: number }[] = [{ value: h, channels: boc[0]! }];
  for (let i = 0; i < nBlocks; i++) {
    const type = cfg.down_block_types[i]!;
    const cross = type === 'CrossAttnDownBlock2D';
    if (!cross && type !== 'DownBlock2D') throw new Error(`unsupported down block ${type}`);
    const out = boc[i]!;
    let inC = i === 0 ? boc[0]! : boc[i - 1]!;
    g.scope(`down_blocks.${i}`, () => {
      for (let j = 0; j < layers[i]!; j++) {
        h = g.scope(`resnets.${j}`, () => resnet(c, h, inC, out));
        if (cross) h = g.scope(`attentions.${j}`, () => transformer2d(c, h, out, heads[i]!, depth[i]!));
        skips.push({ value: h, channels: out });
        inC = out;
      }
      if (i < nBlocks - 1) {
        h = g.scope('downsamplers.0', () => g.scope('conv', () => g.conv(h, out, out, 3, { stride: 2, pad: 1 })));
        skips.push({ value: h, channels: out });
      }
    });
  }
  return { c, sample, skips, h };
}

/** UNetMidBlock2DCrossAttn. */
export function buildMidBlock(c: Ctx, cfg: UnetConfig, h: string): string {
  const { g } = c;
  const { n, heads, depth } = levels(cfg);
  const midC = cfg.block_out_channels[n - 1]!;
  if (cfg.mid_block_type && cfg.mid_block_type !== 'UNetMidBlock2DCrossAttn') throw new Error(`unsupported mid block ${cfg.mid_block_type}`);
  return g.scope('mid_block', () => {
    h = g.scope('resnets.0', () => resnet(c, h, midC, midC));
    h = g.scope('attentions.0', () => transformer2d(c, h, midC, heads[n - 1]!, depth[n - 1]!));
    return g.scope('resnets.1', () => resnet(c, h, midC, midC));
  });
}

/**
 * Builds the graph; weights are bound afterwards with ModuleGraph.resolve. With
 * `controlnetInputs`, every skip and the mid-block output take a residual input. Runs
 * without a ControlNet feed a [1,1,1,1] zero (UnetRunner does): onnxruntime-node only
 * passes feeds named in inputNames, so overridable initializers cannot serve as defaults.
 */
export function buildUnetGraph(cfg: UnetConfig, opts: UnetGraphOptions & { controlnetInputs?: boolean }): ModuleGraph {
  const g = new ModuleGraph(opts.floatType, opts.attention);
  const ft = opts.floatType;
  const boc = cfg.block_out_channels;
  const { n: nBlocks, layers, heads, upDepth } = levels(cfg);
  const { c, skips, h: down } = buildTrunk(g, cfg, opts);
  if (opts.controlnetInputs) {
    skips.forEach((s, k) => {
      const name = residualInput(k);
      g.input({ name, elemType: ft, dims: [`res${k}_batch`, `res${k}_channels`, `res${k}_height`, `res${k}_width`] });
      s.value = g.op('Add', [s.value, name]);
    });
  }
  let h = buildMidBlock(c, cfg, down);
  if (opts.controlnetInputs) {
    g.input({ name: MID_RESIDUAL, elemType: ft, dims: ['mid_batch', 'mid_channels', 'mid_height', 'mid_width'] });
    h = g.op('Add', [h, MID_RESIDUAL]);
  }

  const rev = [...boc].reverse();
  const revHeads = [...heads].reverse();
  const revLayers = [...layers].reverse();
  let prevOut = rev[0]!;
  for (let i = 0; i < nBlocks; i++) {
    const type = cfg.up_block_types[i]!;
    const cross = type === 'CrossAttnUpBlock2D';
    if (!cross && type !== 'UpBlock2D') throw new Error(`unsupported up block ${type}`);
    const out = rev[i]!;
    g.scope(`up_blocks.${i}`, () => {
      for (let j = 0; j <= revLayers[i]!; j++) {
        const skip = skips.pop()!;
        const inC = (j === 0 ? prevOut : out) + skip.channels;
        const joined = g.op('Concat', [h, skip.value], { axis: 1 });
        h = g.scope(`resnets.${j}`, () => resnet(c, joined, inC, out));
        if (cross) h = g.scope(`attentions.${j}`, () => transformer2d(c, h, out, revHeads[i]!, upDepth[i]!));
      }
      if (i < nBlocks - 1) {
        // Nearest ×2 to the size of the skip it meets next (diffusers' upsample_size), so
        // latent sides need only be multiples of 8 / 2^levels rounding as in PyTorch.
        const target = skips[skips.length - 1]!.value;
        const size = g.op('Concat', [g.op('Slice', [g.op('Shape', [h]), g.i64([0]), g.i64([2])]), g.op('Slice', [g.op('Shape', [target]), g.i64([2]), g.i64([4])])], { axis: 0 });
        g.scope('upsamplers.0', () => {
          const up = g.op('Resize', [h, '', '', size], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
          h = g.scope('conv', () => g.conv(up, out, out, 3));
        });
      }
    });
    prevOut = out;
  }

  const groups = num(cfg.norm_num_groups, 32);
  h = g.scope('conv_norm_out', () => g.groupNorm(h, boc[0]!, groups, num(cfg.norm_eps, 1e-5)));
  h = g.scope('conv_out', () => g.conv(g.silu(h), boc[0]!, num(cfg.out_channels, 4), num(cfg.conv_out_kernel, 3)));
  g.output(h, { name: 'out_sample', elemType: ft, dims: ['batch_size', num(cfg.out_channels, 4), 'height', 'width'] });
  return g;
}
