// Step previews without the VAE: the well-known SDXL latent -> RGB linear approximation
// (factors as used by ComfyUI's SDXL latent format) applied to the model's current x0
// estimate, encoded as a small JPEG with sharp.
import sharp from 'sharp';
import type { Preview } from '../engine/context.js';

/** Rows: latent channel; columns: R, G, B. */
export const SDXL_LATENT_RGB_FACTORS: readonly (readonly [number, number, number])[] = [
  [0.3651, 0.4232, 0.4341],
  [-0.2533, -0.0042, 0.1068],
  [0.1076, 0.1111, -0.0362],
  [-0.3165, -0.2492, -0.2188],
];
export const SDXL_LATENT_RGB_BIAS: readonly [number, number, number] = [0.1084, -0.0175, -0.0011];

/** ᾱ(t) for the scheduler config's beta schedule (scaled_linear / linear). */
export function alphasCumprod(config: Record<string, unknown>): Float64Array {
  const n = Number(config.num_train_timesteps ?? 1000);
  const b0 = Number(config.beta_start ?? 0.00085);
  const b1 = Number(config.beta_end ?? 0.012);
  const scaled = (config.beta_schedule ?? 'scaled_linear') === 'scaled_linear';
  const out = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    const beta = scaled ? (Math.sqrt(b0) + ((Math.sqrt(b1) - Math.sqrt(b0)) * i) / (n - 1)) ** 2 : b0 + ((b1 - b0) * i) / (n - 1);
    prod *= 1 - beta;
    out[i] = prod;
  }
  return out;
}

/**
 * x0 estimate of image 0 from the variance-preserving model input and the prediction:
 * epsilon: (x − √(1−ᾱ)·ε)/√ᾱ; v_prediction: √ᾱ·x − √(1−ᾱ)·v. Every scheduler's
 * scale_model_input yields that VP form, so this needs no scheduler internals.
 */
export function estimateX0(modelInput: Float32Array, pred: Float32Array, per: number, alphaBar: number, prediction: string): Float32Array {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const out = new Float32Array(per);
  for (let i = 0; i < per; i++) {
    out[i] = prediction === 'v_prediction' ? a * modelInput[i]! - s * pred[i]! : (modelInput[i]! - s * pred[i]!) / a;
  }
  return out;
}

/** Latents [4,h,w] (scaled, as the UNet sees them) -> RGB uint8 HWC. */
export function latentToRgb(latent: Float32Array, h: number, w: number): Uint8Array {
  const plane = h * w;
  const out = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      let v = SDXL_LATENT_RGB_BIAS[c]!;
      for (let k = 0; k < 4; k++) v += latent[k * plane + p]! * SDXL_LATENT_RGB_FACTORS[k]![c]!;
      const u = Math.round(((v + 1) / 2) * 255);
      out[p * 3 + c] = u < 0 ? 0 : u > 255 ? 255 : u;
    }
  }
  return out;
}

/** A small JPEG preview (latent resolution, i.e. 1/8 of the image side). */
export async function previewJpeg(latent: Float32Array, h: number, w: number, quality = 70): Promise<Preview> {
  const rgb = latentToRgb(latent, h, w);
  const data = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality }).toBuffer();
  return { mime: 'image/jpeg', data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: w, height: h };
}

/**
 * Turns the sampler's step info into a preview of image 0: x0 estimate at the step's
 * timestep, mapped to RGB, as a JPEG.
 */
export function createStepPreviewer(schedulerConfig: Record<string, unknown>, height: number, width: number) {
  const alphas = alphasCumprod(schedulerConfig);
  const prediction = String(schedulerConfig.prediction_type ?? 'epsilon');
  const h = height / 8;
  const w = width / 8;
  const per = 4 * h * w;
  return (s: { timestep: number; modelInput: Float32Array; noisePred: Float32Array }): Promise<Preview> => {
    const t = Math.min(alphas.length - 1, Math.max(0, Math.round(s.timestep)));
    const x0 = estimateX0(s.modelInput.subarray(0, per), s.noisePred.subarray(0, per), per, alphas[t]!, prediction);
    return previewJpeg(x0, h, w);
  };
}
