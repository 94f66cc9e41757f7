// diffusers' ControlNetModel (SDXL: text_time addition embedding) as an ONNX graph: the
// UNet's trunk (embeddings, conv_in, down blocks, mid block — shared code with the UNet
// graph) plus the conditioning embedding added after conv_in and the zero convolutions.
// Inputs: sample (the 4 latent channels), timestep, encoder_hidden_states, text_embeds,
// time_ids, controlnet_cond [B,3,H,W] in [0,1], conditioning_scale [1]; outputs
// down_block_res_samples.{k} (already × scale) and mid_block_res_sample.
import { num, type UnetConfig } from './configs.js';
import { ModuleGraph, type AttentionOptions, type FloatType } from './layers.js';
import { buildMidBlock, buildTrunk } from './unet-graph.js';

export interface ControlNetConfig extends UnetConfig {
  conditioning_channels?: number;
  conditioning_embedding_out_channels?: number[];
  controlnet_conditioning_channel_order?: string;
  global_pool_conditions?: boolean;
}

export function buildControlNetGraph(cfg: ControlNetConfig, opts: { floatType: FloatType; pooledDim: number; attention?: AttentionOptions }): ModuleGraph {
  if (cfg.controlnet_conditioning_channel_order && cfg.controlnet_conditioning_channel_order !== 'rgb') throw new Error(`unsupported controlnet_conditioning_channel_order ${cfg.controlnet_conditioning_channel_order}`);
  if (cfg.global_pool_conditions) throw new Error('global_pool_conditions ControlNets are not supported');
  const g = new ModuleGraph(opts.floatType, opts.attention);
  const ft = opts.floatType;
  const condCh = num(cfg.conditioning_channels, 3);
  const coe = cfg.conditioning_embedding_out_channels ?? [16, 32, 96, 256];
  const boc = cfg.block_out_channels;
  const cond = g.input({ name: 'controlnet_cond', elemType: ft, dims: ['batch_size', condCh, 'image_height', 'image_width'] });
  const scale = g.input({ name: 'conditioning_scale', elemType: ft, dims: [1] });
  const { c, skips, h } = buildTrunk(g, { ...cfg, in_channels: cfg.in_channels }, opts, (x) => {
    // ControlNetConditioningEmbedding: full-resolution image -> latent resolution, added after conv_in.
    const emb = g.scope('controlnet_cond_embedding', () => {
      let e = g.silu(g.scope('conv_in', () => g.conv(cond, condCh, coe[0]!, 3)));
      for (let i = 0; i < coe.length - 1; i++) {
        e = g.silu(g.scope(`blocks.${2 * i}`, () => g.conv(e, coe[i]!, coe[i]!, 3)));
        e = g.silu(g.scope(`blocks.${2 * i + 1}`, () => g.conv(e, coe[i]!, coe[i + 1]!, 3, { stride: 2, pad: 1 })));
      }
      return g.scope('conv_out', () => g.conv(e, coe[coe.length - 1]!, boc[0]!, 3));
    });
    return g.op('Add', [x, emb]);
  });
  const mid = buildMidBlock(c, cfg, h);
  skips.forEach((s, k) => {
    const r = g.scope(`controlnet_down_blocks.${k}`, () => g.conv(s.value, s.channels, s.channels, 1));
    g.output(g.op('Mul', [r, scale]), { name: `down_block_res_samples.${k}`, elemType: ft, dims: ['batch_size', s.channels, `res${k}_height`, `res${k}_width`] });
  });
  const midC = boc[boc.length - 1]!;
  const m = g.scope('controlnet_mid_block', () => g.conv(mid, midC, midC, 1));
  g.output(g.op('Mul', [m, scale]), { name: 'mid_block_res_sample', elemType: ft, dims: ['batch_size', midC, 'mid_height', 'mid_width'] });
  return g;
}
