/**
 * DDIMScheduler (diffusers 0.27.2) with eta = 0 (deterministic).
 *   prev_t = t - num_train_timesteps // steps (whatever the spacing, as diffusers does);
 *   ᾱ_prev = ᾱ[prev_t], or final_alpha_cumprod (1 if set_alpha_to_one else ᾱ[0]) when prev_t < 0;
 *   x₀ = (x - sqrt(1-ᾱ) ε)/sqrt(ᾱ) (epsilon) or sqrt(ᾱ) x - sqrt(1-ᾱ) v (then ε = sqrt(ᾱ) v + sqrt(1-ᾱ) x);
 *   x' = sqrt(ᾱ_prev) x₀ + sqrt(1 - ᾱ_prev) ε. clip_sample clamps x₀ to ±clip_sample_range.
 *   add_noise: sqrt(ᾱ_t) x + sqrt(1 - ᾱ_t) noise, indexed by t directly. scaleModelInput is identity.
 */
import type { TorchGenerator } from '../rng.js';
import {
  checkSteps,
  computeAlphasCumprod,
  f32,
  outBuffer,
  sameLength,
  spacedTimesteps,
  type ResolvedConfig,
} from './common.js';
import type { Scheduler } from './types.js';

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly sigmas = undefined;
  readonly alphasCumprod: Float32Array;
  readonly finalAlphaCumprod: number;
  timesteps: number[] = [];
  private numSteps = 0;

  constructor(private readonly cfg: ResolvedConfig) {
    this.alphasCumprod = computeAlphasCumprod(cfg);
    this.finalAlphaCumprod = cfg.setAlphaToOne ? 1 : this.alphasCumprod[0];
  }

  setTimesteps(steps: number): void {
    checkSteps(steps, this.cfg.numTrainTimesteps);
    this.timesteps = spacedTimesteps(this.cfg, steps, true);
    this.numSteps = steps;
  }

  /** DDIM steps by timestep value, so the begin index is not needed (diffusers has none either). */
  setBeginIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0) throw new Error(`begin index must be a non-negative integer, got ${index}`);
  }

  scaleModelInput(sample: Float32Array, _t: number, out?: Float32Array): Float32Array {
    const o = outBuffer(sample.length, out);
    if (o !== sample) o.set(sample);
    return o;
  }

  /** ᾱ at a training timestep (integer in [0, num_train_timesteps)). */
  alphaAt(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.alphasCumprod.length) throw new Error(`ddim: invalid timestep ${t}`);
    return this.alphasCumprod[t];
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _rng?: TorchGenerator, out?: Float32Array): Float32Array {
    sameLength(modelOutput, sample, 'step');
    if (this.numSteps === 0) throw new Error('scheduler: call setTimesteps() first');
    const prevT = t - Math.floor(this.cfg.numTrainTimesteps / this.numSteps);
    const a = this.alphaAt(t);
    const aPrev = prevT >= 0 ? this.alphaAt(prevT) : this.finalAlphaCumprod;
    const sqrtA = f32(Math.sqrt(a));
    const sqrtB = f32(Math.sqrt(f32(1 - a)));
    const sqrtAPrev = f32(Math.sqrt(aPrev));
    const dirCoef = f32(Math.sqrt(f32(1 - aPrev)));
    const clip = this.cfg.clipSample ? this.cfg.clipSampleRange : Infinity;
    const eps = this.cfg.predictionType === 'epsilon';
    const o = outBuffer(sample.length, out);
    for (let k = 0; k < o.length; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      let x0: number;
      let e: number;
      if (eps) {
        x0 = f32(f32(x - f32(sqrtB * m)) / sqrtA);
        e = m;
      } else {
        x0 = f32(f32(sqrtA * x) - f32(sqrtB * m));
        e = f32(f32(sqrtA * m) + f32(sqrtB * x));
      }
      if (x0 > clip) x0 = clip;
      else if (x0 < -clip) x0 = -clip;
      o[k] = f32(sqrtAPrev * x0) + f32(dirCoef * e);
    }
    return o;
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number, out?: Float32Array): Float32Array {
    sameLength(original, noise, 'addNoise');
    const a = this.alphaAt(t);
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(f32(1 - a)));
    const o = outBuffer(original.length, out);
    for (let k = 0; k < o.length; k++) o[k] = f32(sa * original[k]) + f32(sb * noise[k]);
    return o;
  }
}
