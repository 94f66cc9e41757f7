// diffusers / transformers config shapes the graph builders read, and the configurations of
// the standard SDXL 1.0 releases (used when a single file's tensor shapes say it is one of
// them, as diffusers' from_single_file and ComfyUI's model detection do).

export interface UnetConfig {
  in_channels: number;
  out_channels?: number;
  block_out_channels: number[];
  layers_per_block: number | number[];
  down_block_types: string[];
  up_block_types: string[];
  mid_block_type?: string | null;
  attention_head_dim: number | number[];
  num_attention_heads?: number | number[] | null;
  transformer_layers_per_block?: number | number[];
  reverse_transformer_layers_per_block?: number[] | null;
  cross_attention_dim: number;
  addition_embed_type?: string | null;
  addition_time_embed_dim: number;
  projection_class_embeddings_input_dim: number;
  norm_num_groups?: number;
  norm_eps?: number;
  time_embedding_dim?: number | null;
  flip_sin_to_cos?: boolean;
  freq_shift?: number;
  conv_in_kernel?: number;
  conv_out_kernel?: number;
  use_linear_projection?: boolean;
  sample_size?: number;
  [k: string]: unknown;
}

export interface VaeConfig {
  in_channels?: number;
  out_channels?: number;
  block_out_channels: number[];
  layers_per_block?: number;
  latent_channels?: number;
  norm_num_groups?: number;
  scaling_factor?: number;
  down_block_types?: string[];
  up_block_types?: string[];
  [k: string]: unknown;
}

export interface ClipTextConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  max_position_embeddings: number;
  vocab_size: number;
  layer_norm_eps?: number;
  projection_dim?: number;
  eos_token_id?: number;
  [k: string]: unknown;
}

export function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** A per-block setting given as one number or a list of one per block. */
export function arrayPerBlock(v: unknown, n: number, what: string): number[] {
  if (typeof v === 'number') return Array.from({ length: n }, () => v);
  if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number')) return v as number[];
  throw new Error(`${what} must be a number or a list of ${n} numbers (got ${JSON.stringify(v)})`);
}

const SDXL_UNET_COMMON = {
  out_channels: 4,
  layers_per_block: 2,
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  addition_embed_type: 'text_time',
  addition_time_embed_dim: 256,
  norm_num_groups: 32,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
  use_linear_projection: true,
  sample_size: 128,
};

export const SDXL_BASE_UNET: UnetConfig = {
  ...SDXL_UNET_COMMON,
  in_channels: 4,
  block_out_channels: [320, 640, 1280],
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  attention_head_dim: [5, 10, 20],
  transformer_layers_per_block: [1, 2, 10],
  cross_attention_dim: 2048,
  projection_class_embeddings_input_dim: 2816,
};

export const SDXL_REFINER_UNET: UnetConfig = {
  ...SDXL_UNET_COMMON,
  in_channels: 4,
  block_out_channels: [384, 768, 1536, 1536],
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  attention_head_dim: [6, 12, 24, 24],
  transformer_layers_per_block: 4,
  cross_attention_dim: 1280,
  projection_class_embeddings_input_dim: 2560,
};

export const SDXL_VAE: VaeConfig = {
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  latent_channels: 4,
  norm_num_groups: 32,
  scaling_factor: 0.13025,
  force_upcast: true,
  sample_size: 1024,
};

export const CLIP_L: ClipTextConfig = {
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'quick_gelu',
  max_position_embeddings: 77,
  vocab_size: 49408,
  layer_norm_eps: 1e-5,
  projection_dim: 768,
  eos_token_id: 2,
};

export const CLIP_BIGG: ClipTextConfig = {
  hidden_size: 1280,
  num_hidden_layers: 32,
  num_attention_heads: 20,
  intermediate_size: 5120,
  hidden_act: 'gelu',
  max_position_embeddings: 77,
  vocab_size: 49408,
  layer_norm_eps: 1e-5,
  projection_dim: 1280,
  eos_token_id: 2,
};

/** SDXL 1.0's scheduler config (EulerDiscreteScheduler). */
export const SDXL_SCHEDULER = {
  _class_name: 'EulerDiscreteScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  interpolation_type: 'linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  sample_max_value: 1.0,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: 'leading',
  trained_betas: null,
  use_karras_sigmas: false,
};
