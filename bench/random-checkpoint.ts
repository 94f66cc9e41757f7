// Writes a random-weight single-file SDXL checkpoint in the original Stability (SGM) key
// layout, fp16, with the standard SDXL 1.0 inpainting architecture: the key list and shapes
// come from maskflow's own graphs and key maps, so the file is exactly what they read.
// Streams to disk; memory stays at one 32 MB pool of random halves.
import { buildClipGraph } from '../server/checkpoints/clip-graph.js';
import { CLIP_BIGG, CLIP_L, SDXL_BASE_UNET, SDXL_VAE } from '../server/checkpoints/configs.js';
import { DT } from '../server/checkpoints/graph-builder.js';
import { buildUnetGraph } from '../server/checkpoints/unet-graph.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from '../server/checkpoints/vae-graph.js';
import { writeRandomSafetensors } from './random-safetensors.js';
import { SGM_PREFIX, SgmClipLSource, SgmUnetSource, SgmVaeSource } from '../server/checkpoints/sgm-keys.js';

function sgmLayout(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const none = new Map();
  const unet = buildUnetGraph({ ...SDXL_BASE_UNET, in_channels: 9 }, { floatType: DT.FLOAT, pooledDim: 1280 });
  const us = new SgmUnetSource('', none, '');
  us.prepare(unet.paramNames());
  for (const [n, shape] of unet.paramShapes()) out.set(us.keyOf(n)!, shape);
  const vs = new SgmVaeSource('', none, '', SDXL_VAE.block_out_channels.length);
  for (const g of [buildVaeEncoderGraph(SDXL_VAE, DT.FLOAT), buildVaeDecoderGraph(SDXL_VAE, DT.FLOAT)])
    for (const [n, shape] of g.paramShapes()) {
      const key = vs.keyOf(n)!;
      // ldm stores the mid-block attention projections as 1x1 convs.
      out.set(key, /mid\.attn_1\.(q|k|v|proj_out)\.weight$/.test(key) ? [...shape, 1, 1] : shape);
    }
  const ls = new SgmClipLSource('', none, '');
  for (const [n, shape] of buildClipGraph(CLIP_L, { floatType: DT.FLOAT, withProjection: false, idsType: DT.INT32 }).paramShapes()) out.set(ls.keyOf(n)!, shape);
  const H = CLIP_BIGG.hidden_size;
  const g = SGM_PREFIX.clipG;
  for (const [n, shape] of buildClipGraph(CLIP_BIGG, { floatType: DT.FLOAT, withProjection: true, idsType: DT.INT64 }).paramShapes()) {
    const layer = /^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
    if (layer) {
      const [, i, m, leaf] = layer;
      const base = `${g}transformer.resblocks.${i}`;
      const qkv = /^self_attn\.[qkv]_proj$/.test(m!);
      const map: Record<string, string> = { layer_norm1: 'ln_1', layer_norm2: 'ln_2', 'self_attn.out_proj': 'attn.out_proj', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj' };
      if (qkv) out.set(`${base}.attn.in_proj_${leaf}`, leaf === 'weight' ? [3 * H, H] : [3 * H]);
      else out.set(`${base}.${map[m!]}.${leaf}`, shape);
    } else if (n === 'text_projection.weight') out.set(`${g}text_projection`, [shape[1]!, shape[0]!]);
    else if (n === 'text_model.embeddings.token_embedding.weight') out.set(`${g}token_embedding.weight`, shape);
    else if (n === 'text_model.embeddings.position_embedding.weight') out.set(`${g}positional_embedding`, shape);
    else out.set(`${g}ln_final.${n.split('.').pop()}`, shape);
  }
  out.set(`${g}logit_scale`, []);
  return out;
}

export async function writeRandomSdxlCheckpoint(file: string): Promise<{ path: string; bytes: number; tensors: number }> {
  const layout = [...sgmLayout()];
  return { path: file, bytes: await writeRandomSafetensors(file, layout, 'F16'), tensors: layout.length };
}
