/**
 * Shared state of the σ-parameterised schedulers (Euler, Euler ancestral, DPM++): timesteps/σ tables,
 * diffusers' step-index bookkeeping (`_init_step_index`, `set_begin_index`) and `add_noise`.
 */
import type { TorchGenerator } from '../rng.js';
import {
  checkSteps,
  computeAlphasCumprod,
  f32,
  indexForTimestep,
  outBuffer,
  sameLength,
  trainingSigmas,
  type ResolvedConfig,
} from './common.js';
import type { Scheduler, SchedulerName } from './types.js';

export abstract class SigmaScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  readonly order = 1;
  readonly alphasCumprod: Float32Array;
  /** Training σ table, float32 (diffusers' `((1 - ᾱ) / ᾱ) ** 0.5`). */
  protected readonly trainSigmas: Float32Array;
  timesteps: number[] = [];
  sigmas: number[] = [];
  protected stepIndex: number | null = null;
  protected beginIndex: number | null = null;

  constructor(protected readonly cfg: ResolvedConfig) {
    this.alphasCumprod = computeAlphasCumprod(cfg);
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
  }

  /** Computes `timesteps` and `sigmas` (steps + 1 values, float32). */
  protected abstract computeSchedule(steps: number): { timesteps: number[]; sigmas: number[] };

  setTimesteps(steps: number): void {
    checkSteps(steps, this.cfg.numTrainTimesteps);
    const { timesteps, sigmas } = this.computeSchedule(steps);
    this.timesteps = timesteps;
    this.sigmas = sigmas.map(f32);
    this.stepIndex = null;
    this.beginIndex = null;
    this.resetHistory();
  }

  /** Multistep schedulers clear their model-output history here. */
  protected resetHistory(): void {}

  get initNoiseSigma(): number {
    let max = 0;
    for (const s of this.sigmas) if (s > max) max = s;
    if (this.cfg.timestepSpacing === 'linspace' || this.cfg.timestepSpacing === 'trailing') return max;
    return f32(Math.sqrt(f32(f32(max * max) + 1)));
  }

  setBeginIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0) throw new Error(`begin index must be a non-negative integer, got ${index}`);
    this.beginIndex = index;
  }

  /** The step index the next `step()` will use (initialised from `t` on first use). */
  protected currentIndex(t: number): number {
    if (this.timesteps.length === 0) throw new Error('scheduler: call setTimesteps() first');
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? indexForTimestep(this.timesteps, t);
    if (this.stepIndex >= this.timesteps.length) throw new Error('scheduler: stepped past the last timestep');
    return this.stepIndex;
  }

  /** Euler divides the UNet input by sqrt(σ² + 1); DPM++ leaves it alone (and ignores the index). */
  protected readonly scalesInput: boolean = true;

  scaleModelInput(sample: Float32Array, t: number, out?: Float32Array): Float32Array {
    const o = outBuffer(sample.length, out);
    if (!this.scalesInput) {
      if (o !== sample) o.set(sample);
      return o;
    }
    const sigma = this.sigmas[this.currentIndex(t)];
    const scale = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    for (let i = 0; i < sample.length; i++) o[i] = sample[i] / scale;
    return o;
  }

  abstract step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: TorchGenerator, out?: Float32Array): Float32Array;

  /** diffusers' index choice in add_noise: begin index before the first step, current index after. */
  protected noiseIndex(t: number): number {
    if (this.timesteps.length === 0) throw new Error('scheduler: call setTimesteps() first');
    if (this.beginIndex === null) return indexForTimestep(this.timesteps, t);
    return this.stepIndex ?? this.beginIndex;
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number, out?: Float32Array): Float32Array {
    sameLength(original, noise, 'addNoise');
    const o = outBuffer(original.length, out);
    const sigma = this.sigmas[Math.min(this.noiseIndex(t), this.sigmas.length - 1)];
    for (let i = 0; i < o.length; i++) o[i] = original[i] + f32(noise[i] * sigma);
    return o;
  }
}
