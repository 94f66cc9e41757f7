/**
 * Noise-schedule tables shared by the schedulers, computed the way diffusers 0.27.2 computes them:
 * betas / ᾱ in float32 torch ops (torch.linspace's CPU kernel emulated, cumprod accumulated in
 * float64 like torch's CPU cumprod), σ tables in float32, timestep / σ interpolation in float64
 * numpy, results cast to float32. Matches the goldens' tables bit for bit.
 */
import { fmaf } from '../float32-math.js';
import type { PredictionType, SchedulerConfig, TimestepSpacing } from './types.js';

export const f32 = Math.fround;

export interface ResolvedConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: string;
  trainedBetas: number[] | null;
  stepsOffset: number;
  timestepSpacing: TimestepSpacing;
  predictionType: PredictionType;
  interpolationType: string;
  useKarrasSigmas: boolean;
  setAlphaToOne: boolean;
  clipSample: boolean;
  clipSampleRange: number;
  lambdaMinClipped: number;
  finalSigmasType: 'zero' | 'sigma_min';
  /** DPM-Solver: first-order last step for short schedules / euler_at_final. */
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  /** Euler: 'continuous' + v_prediction uses timesteps 0.25·log σ (EDM-style models). */
  timestepType: 'discrete' | 'continuous';
  /** Euler Karras bounds (config sigma_min / sigma_max); null = from the σ table. */
  sigmaMin: number | null;
  sigmaMax: number | null;
}

function num(v: unknown, fallback: number, key: string): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && !Number.isNaN(v)) return v;
  if (typeof v === 'string' && /^[-+]?(Infinity|inf)$/i.test(v)) return v.startsWith('-') ? -Infinity : Infinity;
  throw new Error(`scheduler config: ${key} must be a number, got ${JSON.stringify(v)}`);
}

/** Reads a diffusers scheduler config; `defaultSpacing` is the scheduler class's default. */
export function resolveConfig(
  config: SchedulerConfig,
  defaultSpacing: TimestepSpacing,
  overrides: { timestepSpacing?: TimestepSpacing; useKarrasSigmas?: boolean } = {},
): ResolvedConfig {
  const spacing = overrides.timestepSpacing ?? config.timestep_spacing ?? defaultSpacing;
  if (spacing !== 'leading' && spacing !== 'trailing' && spacing !== 'linspace') {
    throw new Error(`scheduler config: unsupported timestep_spacing ${JSON.stringify(spacing)}`);
  }
  const prediction = config.prediction_type ?? 'epsilon';
  if (prediction !== 'epsilon' && prediction !== 'v_prediction') {
    throw new Error(`scheduler config: unsupported prediction_type ${JSON.stringify(prediction)}`);
  }
  if (config.rescale_betas_zero_snr === true) throw new Error('scheduler config: rescale_betas_zero_snr is not supported');
  if (config.thresholding === true) throw new Error('scheduler config: thresholding is not supported');
  const finalSigmas = config.final_sigmas_type ?? 'zero';
  if (finalSigmas !== 'zero' && finalSigmas !== 'sigma_min') {
    throw new Error(`scheduler config: unsupported final_sigmas_type ${JSON.stringify(finalSigmas)}`);
  }
  const numTrain = num(config.num_train_timesteps, 1000, 'num_train_timesteps');
  if (!Number.isInteger(numTrain) || numTrain < 2) throw new Error('scheduler config: num_train_timesteps must be an integer >= 2');
  return {
    numTrainTimesteps: numTrain,
    betaStart: num(config.beta_start, 0.0001, 'beta_start'),
    betaEnd: num(config.beta_end, 0.02, 'beta_end'),
    betaSchedule: String(config.beta_schedule ?? 'linear'),
    trainedBetas: Array.isArray(config.trained_betas) ? config.trained_betas : null,
    stepsOffset: num(config.steps_offset, 0, 'steps_offset'),
    timestepSpacing: spacing,
    predictionType: prediction,
    interpolationType: String(config.interpolation_type ?? 'linear'),
    useKarrasSigmas: overrides.useKarrasSigmas ?? config.use_karras_sigmas === true,
    setAlphaToOne: config.set_alpha_to_one !== false,
    clipSample: config.clip_sample === true,
    clipSampleRange: num(config.clip_sample_range, 1, 'clip_sample_range'),
    lambdaMinClipped: num(config.lambda_min_clipped, -Infinity, 'lambda_min_clipped'),
    finalSigmasType: finalSigmas,
    timestepType: config.timestep_type === 'continuous' ? 'continuous' : 'discrete',
    lowerOrderFinal: config.lower_order_final !== false,
    eulerAtFinal: config.euler_at_final === true,
    sigmaMin: typeof config.sigma_min === 'number' ? config.sigma_min : null,
    sigmaMax: typeof config.sigma_max === 'number' ? config.sigma_max : null,
  };
}

/**
 * `torch.linspace(start, end, n, dtype=float32)` on an AVX2 CPU: step in float32; the first
 * floor(n/16)*16 values come from 8-wide `arange(base, step)` blocks whose base is an FMA of the
 * step, the rest from the scalar formula (also contracted to FMA); the second half counts back
 * from `end`.
 */
export function torchLinspaceF32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (n - 1));
  const half = Math.floor(n / 2);
  const at = (idx: number) => (idx < half ? fmaf(step, idx, s) : fmaf(-step, n - idx - 1, e));
  const vecEnd = Math.floor(n / 16) * 16;
  for (let base = 0; base < vecEnd; base += 8) {
    const b = at(base);
    for (let i = 0; i < 8; i++) out[base + i] = fmaf(i, step, b);
  }
  for (let idx = vecEnd; idx < n; idx++) out[idx] = at(idx);
  return out;
}

/** diffusers' `betas_for_alpha_bar` (squaredcos_cap_v2), float64 then float32. */
function cosineBetas(n: number): Float32Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  return out;
}

/** ᾱ_t = cumprod(1 - β) as diffusers' `alphas_cumprod` (float32). */
export function computeAlphasCumprod(c: ResolvedConfig): Float32Array {
  const n = c.numTrainTimesteps;
  let betas: Float32Array;
  if (c.trainedBetas) {
    if (c.trainedBetas.length !== n) throw new Error('scheduler config: trained_betas length must equal num_train_timesteps');
    betas = Float32Array.from(c.trainedBetas);
  } else if (c.betaSchedule === 'linear') {
    betas = torchLinspaceF32(c.betaStart, c.betaEnd, n);
  } else if (c.betaSchedule === 'scaled_linear') {
    betas = torchLinspaceF32(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), n);
    for (let i = 0; i < n; i++) betas[i] = f32(betas[i] * betas[i]);
  } else if (c.betaSchedule === 'squaredcos_cap_v2') {
    betas = cosineBetas(n);
  } else {
    throw new Error(`scheduler config: unsupported beta_schedule ${JSON.stringify(c.betaSchedule)}`);
  }
  const out = new Float32Array(n);
  let acc = 1; // torch's CPU cumprod accumulates in double
  for (let i = 0; i < n; i++) {
    acc *= f32(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/** σ_t = sqrt((1 - ᾱ) / ᾱ) in float32 torch ops. */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  const out = new Float32Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) {
    const a = alphasCumprod[i];
    out[i] = Math.sqrt(f32(f32(1 - a) / a));
  }
  return out;
}

/** `np.interp(x, arange(len(fp)), fp)` in float64. */
export function interpIndex(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0];
  if (x >= last) return fp[last];
  const j = Math.floor(x);
  if (j === x) return fp[j];
  const slope = fp[j + 1] - fp[j];
  return slope * (x - j) + fp[j];
}

/** numpy's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.arange(start, stop, step)` values (float64, numpy's length and fill rule). */
export function npArange(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  return Array.from({ length: len }, (_, i) => start + i * delta);
}

/** `np.linspace(start, stop, n)` (float64; last value exactly `stop`). */
export function npLinspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? stop : i * step + start));
}

/**
 * Integer-valued timesteps of the Euler / DDIM families (`set_timesteps`), descending. 'linspace'
 * keeps numpy's float32 values (non-integer for most step counts), as EulerDiscreteScheduler does.
 */
export function spacedTimesteps(c: ResolvedConfig, steps: number, linspaceRound: boolean): number[] {
  const n = c.numTrainTimesteps;
  switch (c.timestepSpacing) {
    case 'linspace': {
      const t = npLinspace(0, n - 1, steps).reverse();
      return linspaceRound ? t.map(roundHalfEven) : t.map(f32);
    }
    case 'leading': {
      const ratio = Math.floor(n / steps);
      return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + c.stepsOffset);
    }
    case 'trailing':
      return npArange(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
  }
}

/** diffusers `_convert_to_karras` (ρ = 7) between σ_max = sigmas[0] and σ_min = sigmas[last]. */
export function karrasSigmas(sigmaMax: number, sigmaMin: number, steps: number): number[] {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, steps).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** diffusers `_sigma_to_t`: fractional timestep of σ by log-σ interpolation (not rounded). */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low];
  const hi = logSigmas[low + 1];
  // numpy: (float32 - float64) / (float32 - float32 -> float32)
  const w = Math.min(Math.max((lo - logSigma) / f32(lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

/** float32 `log` of every training σ (numpy float32). */
export function logSigmasF32(sigmas: Float32Array): Float32Array {
  return Float32Array.from(sigmas, (s) => Math.log(s));
}

/** diffusers `index_for_timestep`: the 2nd match if the timestep repeats, last index if absent. */
export function indexForTimestep(timesteps: readonly number[], t: number): number {
  const matches: number[] = [];
  for (let i = 0; i < timesteps.length && matches.length < 2; i++) if (timesteps[i] === t) matches.push(i);
  if (matches.length === 0) return timesteps.length - 1;
  return matches.length > 1 ? matches[1] : matches[0];
}

export function checkSteps(steps: number, numTrain: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrain) {
    throw new Error(`number of steps must be an integer between 1 and ${numTrain}, got ${steps}`);
  }
}

/** Output buffer helper: reuse `out` if given (must match length), else allocate. */
export function outBuffer(length: number, out?: Float32Array): Float32Array {
  if (!out) return new Float32Array(length);
  if (out.length !== length) throw new Error(`output buffer has ${out.length} values, expected ${length}`);
  return out;
}

export function sameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: tensors differ in size (${a.length} vs ${b.length})`);
}
