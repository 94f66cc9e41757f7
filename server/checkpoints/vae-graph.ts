// diffusers' AutoencoderKL halves as ONNX graphs with Optimum's interface:
// vae_encoder: sample [B,3,H,W] -> latent_parameters [B, 2·latent, H/8, W/8] (mean ‖ logvar);
// vae_decoder: latent_sample [B, latent, h, w] -> sample [B,3,8h,8w] (post_quant_conv included).
import { ModuleGraph, type AttentionOptions, type FloatType } from './layers.js';
import { num, type VaeConfig } from './configs.js';

const EPS = 1e-6;

function resnet(g: ModuleGraph, x: string, inC: number, outC: number, groups: number): string {
  let h = g.scope('norm1', () => g.groupNorm(x, inC, groups, EPS));
  h = g.scope('conv1', () => g.conv(g.silu(h), inC, outC, 3));
  h = g.scope('norm2', () => g.groupNorm(h, outC, groups, EPS));
  h = g.scope('conv2', () => g.conv(g.silu(h), outC, outC, 3));
  const skip = inC !== outC ? g.scope('conv_shortcut', () => g.conv(x, inC, outC, 1)) : x;
  return g.op('Add', [skip, h]);
}

/** Single-head spatial self-attention with group norm and residual (the VAE mid block). */
function attention(g: ModuleGraph, x: string, C: number, groups: number): string {
  const n = g.scope('group_norm', () => g.groupNorm(x, C, groups, EPS));
  const shape = g.op('Shape', [x]);
  const tokens = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [n, g.i64([0, C, -1])])], { perm: [0, 2, 1] }), g.i64([-1, C])]);
  const batch = g.op('Slice', [shape, g.i64([0]), g.i64([1])]);
  const bsc = g.op('Concat', [batch, g.i64([-1, C])], { axis: 0 });
  const q = g.op('Reshape', [g.scope('to_q', () => g.linear(tokens, C, C)), bsc]);
  const k = g.op('Reshape', [g.scope('to_k', () => g.linear(tokens, C, C)), bsc]);
  const v = g.op('Reshape', [g.scope('to_v', () => g.linear(tokens, C, C)), bsc]);
  const o = g.attention(q, k, v, 1, 1 / Math.sqrt(C));
  const out = g.scope('to_out.0', () => g.linear(g.op('Reshape', [o, g.i64([-1, C])]), C, C));
  const back = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [out, bsc])], { perm: [0, 2, 1] }), shape]);
  return g.op('Add', [back, x]);
}

function midBlock(g: ModuleGraph, x: string, C: number, groups: number): string {
  return g.scope('mid_block', () => {
    let h = g.scope('resnets.0', () => resnet(g, x, C, C, groups));
    h = g.scope('attentions.0', () => attention(g, h, C, groups));
    return g.scope('resnets.1', () => resnet(g, h, C, C, groups));
  });
}

export function buildVaeEncoderGraph(cfg: VaeConfig, floatType: FloatType, attention?: AttentionOptions): ModuleGraph {
  const g = new ModuleGraph(floatType, attention);
  const boc = cfg.block_out_channels;
  const groups = num(cfg.norm_num_groups, 32);
  const layers = num(cfg.layers_per_block, 2);
  const latent = num(cfg.latent_channels, 4);
  const sample = g.input({ name: 'sample', elemType: floatType, dims: ['batch_size', num(cfg.in_channels, 3), 'height', 'width'] });
  let h = g.scope('encoder', () => {
    let x = g.scope('conv_in', () => g.conv(sample, num(cfg.in_channels, 3), boc[0]!, 3));
    for (let i = 0; i < boc.length; i++) {
      g.scope(`down_blocks.${i}`, () => {
        for (let j = 0; j < layers; j++) {
          const inC = j === 0 ? (i === 0 ? boc[0]! : boc[i - 1]!) : boc[i]!;
          x = g.scope(`resnets.${j}`, () => resnet(g, x, inC, boc[i]!, groups));
        }
        if (i < boc.length - 1) {
          // Downsample2D(padding=0): pad right and bottom by one, then a stride-2 conv.
          const padded = g.op('Pad', [x, g.i64([0, 0, 0, 0, 0, 0, 1, 1])]);
          x = g.scope('downsamplers.0', () => g.scope('conv', () => g.conv(padded, boc[i]!, boc[i]!, 3, { stride: 2, pad: 0 })));
        }
      });
    }
    const C = boc[boc.length - 1]!;
    x = midBlock(g, x, C, groups);
    x = g.scope('conv_norm_out', () => g.groupNorm(x, C, groups, EPS));
    return g.scope('conv_out', () => g.conv(g.silu(x), C, 2 * latent, 3));
  });
  h = g.scope('quant_conv', () => g.conv(h, 2 * latent, 2 * latent, 1));
  g.output(h, { name: 'latent_parameters', elemType: floatType, dims: ['batch_size', 2 * latent, 'height_latent', 'width_latent'] });
  return g;
}

export function buildVaeDecoderGraph(cfg: VaeConfig, floatType: FloatType, attention?: AttentionOptions): ModuleGraph {
  const g = new ModuleGraph(floatType, attention);
  const boc = cfg.block_out_channels;
  const rev = [...boc].reverse();
  const groups = num(cfg.norm_num_groups, 32);
  const layers = num(cfg.layers_per_block, 2);
  const latent = num(cfg.latent_channels, 4);
  const z = g.input({ name: 'latent_sample', elemType: floatType, dims: ['batch_size', latent, 'latent_height', 'latent_width'] });
  const h0 = g.scope('post_quant_conv', () => g.conv(z, latent, latent, 1));
  const out = g.scope('decoder', () => {
    let x = g.scope('conv_in', () => g.conv(h0, latent, rev[0]!, 3));
    x = midBlock(g, x, rev[0]!, groups);
    let prev = rev[0]!;
    for (let i = 0; i < rev.length; i++) {
      g.scope(`up_blocks.${i}`, () => {
        for (let j = 0; j <= layers; j++) {
          const inC = j === 0 ? prev : rev[i]!;
          x = g.scope(`resnets.${j}`, () => resnet(g, x, inC, rev[i]!, groups));
        }
        if (i < rev.length - 1) {
          const up = g.op('Resize', [x, '', g.float([1, 1, 2, 2], [4])], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
          x = g.scope('upsamplers.0', () => g.scope('conv', () => g.conv(up, rev[i]!, rev[i]!, 3)));
        }
      });
      prev = rev[i]!;
    }
    x = g.scope('conv_norm_out', () => g.groupNorm(x, boc[0]!, groups, EPS));
    return g.scope('conv_out', () => g.conv(g.silu(x), boc[0]!, num(cfg.out_channels, 3), 3));
  });
  g.output(out, { name: 'sample', elemType: floatType, dims: ['batch_size', num(cfg.out_channels, 3), 'height', 'width'] });
  return g;
}
