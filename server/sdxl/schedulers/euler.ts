/**
 * EulerDiscreteScheduler (diffusers 0.27.2), deterministic (s_churn = 0): SDXL's default scheduler.
 *   σ = interp of the training σ table at the spaced timesteps (or Karras σ with fractional
 *   timesteps when use_karras_sigmas), then 0 appended; timestep_type 'continuous' with
 *   v_prediction gives timesteps 0.25·ln σ. step: x₀ = x - σ·ε (epsilon) or
 *   the v-prediction c_skip/c_out form; x' = x + (x - x₀)/σ · (σ_next - σ).
 */
import type { TorchGenerator } from '../rng.js';
import {
  f32,
  interpIndex,
  karrasSigmas,
  logSigmasF32,
  outBuffer,
  sameLength,
  sigmaToT,
  spacedTimesteps,
} from './common.js';
import { SigmaScheduler } from './sigma-scheduler.js';

export class EulerDiscreteScheduler extends SigmaScheduler {
  readonly name: 'euler' | 'euler_ancestral' = 'euler';

  protected computeSchedule(steps: number): { timesteps: number[]; sigmas: number[] } {
    if (this.cfg.interpolationType !== 'linear') {
      throw new Error(`scheduler config: unsupported interpolation_type ${JSON.stringify(this.cfg.interpolationType)}`);
    }
    let timesteps = spacedTimesteps(this.cfg, steps, false);
    let sigmas = timesteps.map((t) => interpIndex(t, this.trainSigmas));
    if (this.cfg.useKarrasSigmas && this.name === 'euler') {
      const logSigmas = logSigmasF32(this.trainSigmas);
      sigmas = karrasSigmas(this.cfg.sigmaMax ?? sigmas[0], this.cfg.sigmaMin ?? sigmas[sigmas.length - 1], steps);
      timesteps = sigmas.map((s) => f32(sigmaToT(s, logSigmas)));
    }
    if (this.name === 'euler' && this.cfg.timestepType === 'continuous' && this.cfg.predictionType === 'v_prediction') {
      timesteps = sigmas.map((s) => f32(0.25 * f32(Math.log(f32(s)))));
    }
    return { timesteps, sigmas: [...sigmas, 0] };
  }

  /** x₀ prediction for one element (float32 torch op order). */
  protected predictX0(eps: number, x: number, sigma: number, cOut: number, cSkipDiv: number): number {
    if (this.cfg.predictionType === 'epsilon') return f32(x - f32(sigma * eps));
    return f32(f32(eps * cOut) + f32(x / cSkipDiv));
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _rng?: TorchGenerator, out?: Float32Array): Float32Array {
    sameLength(modelOutput, sample, 'step');
    const i = this.currentIndex(t);
    const o = outBuffer(sample.length, out);
    const sigma = this.sigmas[i];
    const dt = f32(this.sigmas[i + 1] - sigma);
    const s2p1 = f32(f32(sigma * sigma) + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
    for (let k = 0; k < o.length; k++) {
      const x = sample[k];
      const x0 = this.predictX0(modelOutput[k], x, sigma, cOut, s2p1);
      const derivative = f32(f32(x - x0) / sigma);
      o[k] = x + f32(derivative * dt);
    }
    this.stepIndex = i + 1;
    return o;
  }
}
