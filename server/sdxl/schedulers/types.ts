/**
 * Scheduler types shared by every scheduler (see index.ts for the public entry point).
 */
import type { TorchGenerator } from '../rng.js';

export type SchedulerName = 'euler' | 'euler_ancestral' | 'dpmpp_2m' | 'dpmpp_2m_karras' | 'ddim';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export type PredictionType = 'epsilon' | 'v_prediction';

/** The JSON of a model's `scheduler/scheduler_config.json` (diffusers); unknown keys are ignored. */
export interface SchedulerConfig {
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: 'linear' | 'scaled_linear' | string;
  trained_betas?: number[] | null;
  steps_offset?: number;
  timestep_spacing?: TimestepSpacing | string;
  prediction_type?: PredictionType | string;
  interpolation_type?: 'linear' | string;
  use_karras_sigmas?: boolean;
  set_alpha_to_one?: boolean;
  clip_sample?: boolean;
  clip_sample_range?: number;
  /** DPM-Solver: -Infinity by default; diffusers writes it as the string/token "-Infinity". */
  lambda_min_clipped?: number | string;
  final_sigmas_type?: 'zero' | 'sigma_min' | string;
  [key: string]: unknown;
}

/**
 * A stateful diffusers-compatible scheduler. Latents are Float32Array (any shape, C order); every
 * method that returns latents accepts an optional `out` buffer (may alias `sample`) so a denoising
 * loop can run without per-step allocations.
 *
 * Typical loop (mirrors diffusers' pipelines):
 *   s.setTimesteps(steps);
 *   const { timesteps, beginIndex } = getStrengthTimesteps(s, steps, strength); s.setBeginIndex(beginIndex);
 *   latents = strength === 1 ? noise * s.initNoiseSigma : s.addNoise(imageLatents, noise, timesteps[0]);
 *   for (const t of timesteps) { x = s.scaleModelInput(latents, t); eps = unet(x, t); latents = s.step(eps, t, latents); }
 */
export interface Scheduler {
  readonly name: SchedulerName;
  /** diffusers' `scheduler.order` (1 for all of these); strength slicing skips `t_start * order`. */
  readonly order: number;
  /** Training ᾱ table (float32, num_train_timesteps entries), as diffusers' `alphas_cumprod`. */
  readonly alphasCumprod: Float32Array;
  setTimesteps(steps: number): void;
  /** `scheduler.timesteps` after setTimesteps (integer-valued except Euler 'linspace'). */
  readonly timesteps: number[];
  /** Euler / DPM++: steps + 1 float32 values, last = 0. Undefined for DDIM. */
  readonly sigmas?: number[];
  readonly initNoiseSigma: number;
  /** diffusers `set_begin_index`: first step index for img2img / inpaint strength. */
  setBeginIndex(index: number): void;
  scaleModelInput(sample: Float32Array, t: number, out?: Float32Array): Float32Array;
  /** One denoising step; returns prev_sample. `rng` is required by ancestral samplers only. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: TorchGenerator, out?: Float32Array): Float32Array;
  /** Forward-diffuses `original` to timestep `t` with `noise` (diffusers `add_noise`). */
  addNoise(original: Float32Array, noise: Float32Array, t: number, out?: Float32Array): Float32Array;
}
