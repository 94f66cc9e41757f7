// VAE encoder/decoder wrappers. The encoder's posterior is returned unsampled (mean, std)
// so the sampler can draw the VAE sample from its own seeded generator in diffusers' order.
import type { InferenceSession } from 'onnxruntime-node';
import { floatInput, inputMeta, outputF32 } from '../models/ort-io.js';
import type { LatentDist } from './types.js';

/** Encodes [1,3,H,W] in [-1,1]; returns the posterior over [1,4,H/8,W/8]. */
export async function vaeEncode(session: InferenceSession, image: Float32Array, height: number, width: number): Promise<LatentDist> {
  const meta = inputMeta(session, 'sample');
  const out = await session.run({ sample: floatInput(meta, image, [1, 3, height, width]) });
  if (out.latent_parameters) {
    // Optimum >= 1.23: concat(mean, logvar) on the channel axis.
    const params = outputF32(out.latent_parameters, 'latent_parameters');
    const dims = out.latent_parameters.dims.map(Number);
    const c = dims[1]! / 2;
    const plane = dims[2]! * dims[3]!;
    const mean = params.slice(0, c * plane);
    const std = new Float32Array(c * plane);
    for (let i = 0; i < std.length; i++) {
      // diffusers DiagonalGaussianDistribution: std = exp(0.5 * clamp(logvar, -30, 20))
      const lv = Math.min(20, Math.max(-30, params[c * plane + i]!));
      std[i] = Math.exp(0.5 * lv);
    }
    return { mean, std };
  }
  const name = out.latent_sample ? 'latent_sample' : session.outputNames[0]!;
  // Optimum <= 1.22: `latent_sample` is already mean + std * N(0,1), drawn inside the graph.
  const sample = outputF32(out[name], name);
  return { mean: sample.slice(), std: new Float32Array(sample.length), sampledInGraph: true };
}

/**
 * Decodes scaled latents [n,4,h,w] one image at a time (bounded memory at 1024²);
 * returns [n,3,H,W] in [0,1] = (decoder(latents / scalingFactor) / 2 + 0.5).clamp(0, 1).
 */
export async function vaeDecode(
  session: InferenceSession,
  latents: Float32Array,
  n: number,
  h: number,
  w: number,
  scalingFactor: number,
): Promise<{ data: Float32Array; height: number; width: number }> {
  const meta = inputMeta(session, 'latent_sample');
  const per = 4 * h * w;
  let outH = 0;
  let outW = 0;
  let result: Float32Array | undefined;
  for (let i = 0; i < n; i++) {
    const z = new Float32Array(per);
    for (let j = 0; j < per; j++) z[j] = latents[i * per + j]! / scalingFactor;
    const out = await session.run({ latent_sample: floatInput(meta, z, [1, 4, h, w]) });
    const name = out.sample ? 'sample' : session.outputNames[0]!;
    const x = outputF32(out[name], name);
    const dims = out[name]!.dims.map(Number);
    outH = dims[2]!;
    outW = dims[3]!;
    result ??= new Float32Array(n * 3 * outH * outW);
    const off = i * 3 * outH * outW;
    for (let j = 0; j < x.length; j++) {
      const v = Math.fround(Math.fround(x[j]! / 2) + 0.5);
      result[off + j] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { data: result ?? new Float32Array(0), height: outH, width: outW };
}
