import { describe, expect, it } from 'vitest';
import { applyGuidance, std } from '../../server/sdxl/guidance.js';
import { timeIds } from '../../server/sdxl/time-ids.js';
import { latentToRgb, previewJpeg, alphasCumprod, estimateX0 } from '../../server/sdxl/preview.js';

describe('classifier-free guidance', () => {
  it('uncond + g·(text − uncond), batch [uncond; text]', () => {
    const pred = Float32Array.from([1, 2, /* text */ 3, 6]);
    const out = new Float32Array(2);
    applyGuidance(pred, 1, 2, 5, 0, out);
    expect(Array.from(out)).toEqual([11, 22]);
  });

  it('guidance_rescale mixes in the prediction rescaled to the text std (diffusers rescale_noise_cfg)', () => {
    const pred = Float32Array.from([0, 0, 0, 0, /* text */ 1, -1, 2, -2]);
    const out = new Float32Array(4);
    applyGuidance(pred, 1, 4, 3, 0.7, out);
    const cfg = [3, -3, 6, -6];
    const ratio = std(Float32Array.from([1, -1, 2, -2])) / std(Float32Array.from(cfg));
    cfg.forEach((v, i) => expect(out[i]).toBeCloseTo(0.7 * v * ratio + 0.3 * v, 5));
    expect(std(Float32Array.from([1, 2, 3, 4]))).toBeCloseTo(Math.sqrt(5 / 3), 12); // unbiased like torch
  });

  it('time ids: [H, W, 0, 0, H, W], or aesthetic score for width 5', () => {
    expect(timeIds(96, 64, 6, undefined, false)).toEqual([64, 96, 0, 0, 64, 96]);
    expect(timeIds(96, 64, 6, { originalSize: [1024, 1024], cropTopLeft: [8, 4] }, false)).toEqual([1024, 1024, 8, 4, 64, 96]);
    expect(timeIds(96, 64, 5, undefined, false)).toEqual([64, 96, 0, 0, 6]);
    expect(timeIds(96, 64, 5, undefined, true)).toEqual([64, 96, 0, 0, 2.5]);
    expect(timeIds(96, 64, 5, { aestheticScore: 7 }, true)).toEqual([64, 96, 0, 0, 2.5]);
    expect(timeIds(96, 64, 5, { aestheticScore: 7, negativeAestheticScore: 3 }, true)).toEqual([64, 96, 0, 0, 3]);
  });
});

describe('latent previews', () => {
  it('maps latents with the SDXL factors and encodes a small JPEG', async () => {
    const lat = new Float32Array(4 * 2 * 2);
    const rgb = latentToRgb(lat, 2, 2);
    // Bias only: (0.1084+1)/2*255 = 141.3 -> 141, (−0.0175+1)/2*255 -> 125, (−0.0011+1)/2*255 -> 127
    expect(Array.from(rgb.subarray(0, 3))).toEqual([141, 125, 127]);
    const p = await previewJpeg(new Float32Array(4 * 16 * 16), 16, 16);
    expect(p.mime).toBe('image/jpeg');
    expect([p.data[0], p.data[1]]).toEqual([0xff, 0xd8]);
  });

  it('x0 estimate inverts the forward process', () => {
    const ac = alphasCumprod({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 });
    expect(ac[0]).toBeCloseTo(1 - 0.00085, 9);
    const a = ac[500]!;
    const x0 = Float32Array.from([0.3, -0.7]);
    const eps = Float32Array.from([1.2, 0.4]);
    const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]!);
    const est = estimateX0(xt, eps, 2, a, 'epsilon');
    expect(est[0]).toBeCloseTo(0.3, 5);
    expect(est[1]).toBeCloseTo(-0.7, 5);
  });
});
