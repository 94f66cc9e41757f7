/**
 * DPMSolverMultistepScheduler (diffusers 0.27.2) as DPM++ 2M: algorithm_type dpmsolver++, solver_order
 * 2, solver_type midpoint (these three are fixed by the name, whatever the config says),
 * lower_order_final / euler_at_final / final_sigmas_type zero|sigma_min from the config; with or
 * without Karras σ.
 *   Timesteps: spacing over `last_timestep` (= 1000 unless lambda_min_clipped) with steps + 1 points;
 *   Karras: σ from σ_max..σ_min of the training table, t = round(sigma_to_t(σ)).
 *   x₀ = (x - σ_t ε)/α_t (epsilon) or α_t x - σ_t v, with α_t = 1/sqrt(σ²+1), σ_t = σ α_t.
 *   1st order (first step, and the last step when lower_order_final applies): x' = (σ_t/σ_s) x - α_t (e^{-h} - 1) x₀.
 *   2nd order: D1 = (m0 - m1)/r0; x' = (σ_t/σ_s0) x - α_t (e^{-h} - 1) (D0 + D1/2).
 * All scalar coefficients follow diffusers' float32 torch arithmetic.
 */
import type { TorchGenerator } from '../rng.js';
import {
  f32,
  interpIndex,
  karrasSigmas,
  logSigmasF32,
  npArange,
  npLinspace,
  outBuffer,
  roundHalfEven,
  sameLength,
  sigmaToT,
} from './common.js';
import { SigmaScheduler } from './sigma-scheduler.js';

const logf = (x: number) => f32(Math.log(x));

/** α_t, σ_t and λ_t = log α_t - log σ_t of a σ, in float32. */
function alphaSigmaLambda(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  const sigmaT = f32(sigma * alpha);
  return { alpha, sigmaT, lambda: f32(logf(alpha) - logf(sigmaT)) };
}

export class DpmSolverMultistepScheduler extends SigmaScheduler {
  readonly name: 'dpmpp_2m' | 'dpmpp_2m_karras';
  /** x₀ predictions of the previous and current step (two rotating buffers). */
  private history: [Float32Array | null, Float32Array | null] = [null, null];
  private lowerOrderNums = 0;

  constructor(cfg: ConstructorParameters<typeof SigmaScheduler>[0]) {
    super(cfg);
    this.name = cfg.useKarrasSigmas ? 'dpmpp_2m_karras' : 'dpmpp_2m';
  }

  override get initNoiseSigma(): number {
    return 1;
  }

  protected override readonly scalesInput = false;

  protected override resetHistory(): void {
    this.history = [null, null];
    this.lowerOrderNums = 0;
  }

  /** Timesteps before σ conversion: spacing over [0, last_timestep) with steps + 1 points, last dropped. */
  private baseTimesteps(steps: number): number[] {
    const c = this.cfg;
    const n = c.numTrainTimesteps;
    // lambda_min_clipped: drop the high-t end where λ(t) is below the clip (cosine schedules).
    let clipped = 0;
    if (c.lambdaMinClipped > -Infinity) {
      for (let t = 0; t < n; t++) if (alphaLambdaOfAcp(this.alphasCumprod[t]) < c.lambdaMinClipped) clipped++;
    }
    const last = n - clipped;
    switch (c.timestepSpacing) {
      case 'linspace':
        return npLinspace(0, last - 1, steps + 1).map(roundHalfEven).reverse().slice(0, steps);
      case 'leading': {
        const ratio = Math.floor(last / (steps + 1));
        return Array.from({ length: steps }, (_, i) => (steps - i) * ratio + c.stepsOffset);
      }
      case 'trailing':
        return npArange(last, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
    }
  }

  protected computeSchedule(steps: number): { timesteps: number[]; sigmas: number[] } {
    let timesteps = this.baseTimesteps(steps);
    let sigmas: number[];
    if (this.cfg.useKarrasSigmas) {
      const train = this.trainSigmas;
      const logSigmas = logSigmasF32(train);
      sigmas = karrasSigmas(train[train.length - 1], train[0], steps);
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToT(s, logSigmas)));
    } else {
      sigmas = timesteps.map((t) => interpIndex(t, this.trainSigmas));
    }
    const a0 = this.alphasCumprod[0];
    const last = this.cfg.finalSigmasType === 'sigma_min' ? Math.sqrt(f32(f32(1 - a0) / a0)) : 0;
    return { timesteps, sigmas: [...sigmas, last] };
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _rng?: TorchGenerator, out?: Float32Array): Float32Array {
    sameLength(modelOutput, sample, 'step');
    const i = this.currentIndex(t);
    const n = this.timesteps.length;
    const c = this.cfg;
    // (lower_order_second only matters for solver_order 3)
    const lowerOrderFinal =
      i === n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigmasType === 'zero');

    // convert_model_output -> x0 prediction, pushed into the 2-slot history
    const cur = this.sigmas[i];
    const s = alphaSigmaLambda(cur);
    const recycled = this.history[0] && this.history[0] !== sample ? this.history[0] : null;
    const x0 = recycled && recycled.length === sample.length ? recycled : new Float32Array(sample.length);
    for (let k = 0; k < x0.length; k++) {
      x0[k] =
        this.cfg.predictionType === 'epsilon'
          ? f32(f32(sample[k] - f32(s.sigmaT * modelOutput[k])) / s.alpha)
          : f32(f32(s.alpha * sample[k]) - f32(s.sigmaT * modelOutput[k]));
    }
    const prevX0 = this.history[1];
    if (prevX0 && prevX0.length !== sample.length) throw new Error('step: latent size changed between steps');
    this.history = [prevX0, x0];

    const next = alphaSigmaLambda(this.sigmas[i + 1]);
    const h = f32(next.lambda - s.lambda);
    const ratio = f32(next.sigmaT / s.sigmaT);
    const coef = f32(next.alpha * f32(f32(Math.exp(-h)) - 1));
    const o = outBuffer(sample.length, out);
    if (this.lowerOrderNums < 1 || lowerOrderFinal || !prevX0) {
      for (let k = 0; k < o.length; k++) o[k] = f32(ratio * sample[k]) - f32(coef * x0[k]);
    } else {
      const s1 = alphaSigmaLambda(this.sigmas[i - 1]);
      const h0 = f32(s.lambda - s1.lambda);
      const invR0 = f32(1 / f32(h0 / h));
      const halfCoef = f32(0.5 * coef);
      for (let k = 0; k < o.length; k++) {
        const d1 = f32(invR0 * f32(x0[k] - prevX0[k]));
        o[k] = f32(f32(ratio * sample[k]) - f32(coef * x0[k])) - f32(halfCoef * d1);
      }
    }
    if (this.lowerOrderNums < 2) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return o;
  }

  override addNoise(original: Float32Array, noise: Float32Array, t: number, out?: Float32Array): Float32Array {
    sameLength(original, noise, 'addNoise');
    const o = outBuffer(original.length, out);
    const { alpha, sigmaT } = alphaSigmaLambda(this.sigmas[Math.min(this.noiseIndex(t), this.sigmas.length - 1)]);
    for (let k = 0; k < o.length; k++) o[k] = f32(alpha * original[k]) + f32(sigmaT * noise[k]);
    return o;
  }
}

/** λ(t) = log sqrt(ᾱ) - log sqrt(1 - ᾱ) (diffusers' lambda_t), float32. */
function alphaLambdaOfAcp(acp: number): number {
  return f32(logf(f32(Math.sqrt(acp))) - logf(f32(Math.sqrt(f32(1 - acp)))));
}
