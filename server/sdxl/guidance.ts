// Classifier-free guidance, in float32 like torch: uncond + g * (text - uncond),
// then optional guidance_rescale (diffusers' rescale_noise_cfg, arXiv:2305.08891 §3.4).
const f = Math.fround;

/**
 * pred holds [uncond × n; text × n] (each image `per` floats); writes the guided
 * prediction of the n images into out.
 */
export function applyGuidance(pred: Float32Array, n: number, per: number, scale: number, rescale: number, out: Float32Array): void {
  const half = n * per;
  for (let i = 0; i < half; i++) {
    const u = pred[i]!;
    out[i] = f(u + f(scale * f(pred[half + i]! - u)));
  }
  if (rescale > 0) {
    for (let k = 0; k < n; k++) {
      const text = pred.subarray(half + k * per, half + (k + 1) * per);
      const cfg = out.subarray(k * per, (k + 1) * per);
      const ratio = std(text) / std(cfg);
      for (let i = 0; i < per; i++) {
        const v = cfg[i]!;
        cfg[i] = f(f(rescale * f(v * ratio)) + f((1 - rescale) * v));
      }
    }
  }
}

/** Unbiased standard deviation (torch.std default). */
export function std(x: Float32Array): number {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i]!;
  mean /= x.length;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! - mean) ** 2;
  return Math.sqrt(s / (x.length - 1));
}
