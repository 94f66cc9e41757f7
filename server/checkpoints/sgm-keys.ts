// Single-file SDXL checkpoints in the original Stability (SGM / ldm) key layout, read as
// diffusers-named components. The UNet's block numbering comes from the module list the
// graph actually uses (lora-keys.ts' sgmNameMap, shared with LoRA key matching); the VAE and
// open_clip renames follow diffusers' single-file conversion.
import type { TensorInfo } from '../models/safetensors.js';
import { sgmNameMap } from '../models/lora-keys.js';
import { refOf, rowSlice, type WeightRef, type WeightSource } from './weights.js';

export const SGM_PREFIX = {
  unet: 'model.diffusion_model.',
  vae: 'first_stage_model.',
  clipL: 'conditioner.embedders.0.transformer.',
  clipG: 'conditioner.embedders.1.model.',
} as const;

/** Keys real files carry that no graph reads (never required, never "unexpected"). */
export function isIgnorableKey(key: string): boolean {
  return (
    /(^|\.)position_ids$/.test(key) ||
    /(^|\.)logit_scale$/.test(key) ||
    key.startsWith('model_ema.') ||
    key === 'denoiser.sigmas' ||
    key === 'edm_mean' ||
    key === 'edm_std' ||
    key === 'ztsnr'
  );
}

abstract class SgmSource implements WeightSource {
  constructor(
    protected readonly file: string,
    protected readonly tensors: Map<string, TensorInfo>,
    protected readonly prefix: string,
    readonly label: string,
  ) {}

  abstract get(name: string): WeightRef | undefined;

  /** The key get(name) reads, when it maps to one (for naming missing tensors). */
  keyOf(name: string): string | undefined {
    const k = this.mapName(name);
    return k && this.prefix + k;
  }

  /** The key (without the prefix) a parameter is read from, where it is a plain rename. */
  protected mapName(_name: string): string | undefined {
    return undefined;
  }

  protected at(key: string): WeightRef | undefined {
    const t = this.tensors.get(this.prefix + key);
    return t ? refOf(this.file, t) : undefined;
  }

  *keys(): Iterable<string> {
    for (const k of this.tensors.keys()) if (k.startsWith(this.prefix) && !isIgnorableKey(k)) yield k;
  }
}

const splitParam = (name: string) => {
  const i = name.lastIndexOf('.');
  return [name.slice(0, i), name.slice(i + 1)] as const;
};

export class SgmUnetSource extends SgmSource {
  private map = new Map<string, string>();

  constructor(file: string, tensors: Map<string, TensorInfo>, label: string) {
    super(file, tensors, SGM_PREFIX.unet, label);
  }

  prepare(paramNames: string[]): void {
    this.map = sgmNameMap(new Set(paramNames.map((p) => splitParam(p)[0])));
  }

  get(name: string): WeightRef | undefined {
    const key = this.mapName(name);
    return key ? this.at(key) : undefined;
  }

  protected override mapName(name: string): string | undefined {
    const [module, leaf] = splitParam(name);
    const sgm = this.map.get(module);
    return sgm ? `${sgm}.${leaf}` : undefined;
  }
}

const VAE_RESNET: Record<string, string> = { conv_shortcut: 'nin_shortcut' };
const VAE_ATTN: Record<string, string> = { group_norm: 'norm', to_q: 'q', to_k: 'k', to_v: 'v', 'to_out.0': 'proj_out' };

/** diffusers AutoencoderKL parameter name -> ldm name (decoder blocks are numbered in reverse). */
export function vaeSgmName(name: string, upBlocks: number): string {
  return name
    .replace(/^(encoder|decoder)\.down_blocks\.(\d+)\.resnets\.(\d+)\./, '$1.down.$2.block.$3.')
    .replace(/^(encoder|decoder)\.down_blocks\.(\d+)\.downsamplers\.0\./, '$1.down.$2.downsample.')
    .replace(/^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\./, (_, i: string, j: string) => `decoder.up.${upBlocks - 1 - Number(i)}.block.${j}.`)
    .replace(/^decoder\.up_blocks\.(\d+)\.upsamplers\.0\./, (_, i: string) => `decoder.up.${upBlocks - 1 - Number(i)}.upsample.`)
    .replace(/^(encoder|decoder)\.mid_block\.resnets\.(\d+)\./, (_, p: string, k: string) => `${p}.mid.block_${Number(k) + 1}.`)
    .replace(/^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\./, (_, p: string, m: string) => `${p}.mid.attn_1.${VAE_ATTN[m]}.`)
    .replace(/\.(conv_shortcut)\./, (_, m: string) => `.${VAE_RESNET[m]}.`)
    .replace(/^(encoder|decoder)\.conv_norm_out\./, '$1.norm_out.');
}

export class SgmVaeSource extends SgmSource {
  constructor(file: string, tensors: Map<string, TensorInfo>, label: string, private readonly upBlocks: number) {
    super(file, tensors, SGM_PREFIX.vae, label);
  }

  get(name: string): WeightRef | undefined {
    return this.at(this.mapName(name));
  }

  protected override mapName(name: string): string {
    return vaeSgmName(name, this.upBlocks);
  }
}

/** CLIP-L keeps transformers' names under its prefix. */
export class SgmClipLSource extends SgmSource {
  constructor(file: string, tensors: Map<string, TensorInfo>, label: string) {
    super(file, tensors, SGM_PREFIX.clipL, label);
  }

  get(name: string): WeightRef | undefined {
    return this.at(name);
  }

  protected override mapName(name: string): string {
    return name;
  }
}

const OPEN_CLIP_LAYER: Record<string, string> = {
  layer_norm1: 'ln_1',
  layer_norm2: 'ln_2',
  'self_attn.out_proj': 'attn.out_proj',
  'mlp.fc1': 'mlp.c_fc',
  'mlp.fc2': 'mlp.c_proj',
};

/** OpenCLIP bigG (open_clip names): q/k/v are row ranges of the fused in_proj; text_projection is stored [H, P]. */
export class SgmOpenClipSource extends SgmSource {
  constructor(file: string, tensors: Map<string, TensorInfo>, label: string) {
    super(file, tensors, SGM_PREFIX.clipG, label);
  }

  get(name: string): WeightRef | undefined {
    if (name === 'text_model.embeddings.token_embedding.weight') return this.at('token_embedding.weight');
    if (name === 'text_model.embeddings.position_embedding.weight') return this.at('positional_embedding');
    if (name.startsWith('text_model.final_layer_norm.')) return this.at(`ln_final.${name.split('.').pop()}`);
    if (name === 'text_projection.weight') {
      const r = this.at('text_projection');
      return r && { ...r, transposed: true };
    }
    const m = /^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
    if (!m) return undefined;
    const [, layer, module, leaf] = m as unknown as [string, string, string, 'weight' | 'bias'];
    const base = `transformer.resblocks.${layer}`;
    const qkv = /^self_attn\.([qkv])_proj$/.exec(module);
    if (qkv) {
      const fused = this.at(`${base}.attn.in_proj_${leaf}`);
      if (!fused) return undefined;
      const h = fused.shape[0]! / 3;
      const i = 'qkv'.indexOf(qkv[1]!);
      return rowSlice(fused, i * h, (i + 1) * h);
    }
    const mapped = OPEN_CLIP_LAYER[module];
    return mapped ? this.at(`${base}.${mapped}.${leaf}`) : undefined;
  }
}
