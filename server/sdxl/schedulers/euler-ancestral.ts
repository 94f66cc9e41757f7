/**
 * EulerAncestralDiscreteScheduler (diffusers 0.27.2): Euler step to σ_down plus fresh noise·σ_up,
 *   σ_up = sqrt(σ_next² (σ² - σ_next²) / σ²), σ_down = sqrt(σ_next² - σ_up²).
 * The noise is `rng.randn(numel)`, i.e. what diffusers draws from the same torch generator
 * (`randn_tensor(model_output.shape, generator=g)` on CPU).
 */
import type { TorchGenerator } from '../rng.js';
import { f32, outBuffer, sameLength } from './common.js';
import { EulerDiscreteScheduler } from './euler.js';

export class EulerAncestralDiscreteScheduler extends EulerDiscreteScheduler {
  override readonly name = 'euler_ancestral' as const;

  override step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: TorchGenerator, out?: Float32Array): Float32Array {
    sameLength(modelOutput, sample, 'step');
    if (!rng) throw new Error('euler_ancestral needs a random generator for its step noise');
    const i = this.currentIndex(t);
    const sigma = this.sigmas[i];
    const sigmaTo = this.sigmas[i + 1];
    const from2 = f32(sigma * sigma);
    const to2 = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
    const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigma);
    const s2p1 = f32(from2 + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
    const noise = rng.randn([sample.length]);
    const o = outBuffer(sample.length, out);
    for (let k = 0; k < o.length; k++) {
      const x = sample[k];
      const x0 = this.predictX0(modelOutput[k], x, sigma, cOut, s2p1);
      const derivative = f32(f32(x - x0) / sigma);
      const prev = f32(x + f32(derivative * dt));
      o[k] = prev + f32(noise[k] * sigmaUp);
    }
    this.stepIndex = i + 1;
    return o;
  }
}
