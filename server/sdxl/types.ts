// Value types of the LATENT and CONDITIONING ports.

/** SDXL micro-conditioning; absent fields are derived from the latent's pixel size. */
export interface SizeConditioning {
  /** [height, width]; default: the output size. */
  originalSize?: [number, number];
  /** [top, left]; default [0, 0]. */
  cropTopLeft?: [number, number];
  /** [height, width]; default: the output size. */
  targetSize?: [number, number];
  /** Refiner-style models (time-id width 5) only; diffusers defaults 6.0 / negative 2.5. */
  aestheticScore?: number;
  negativeAestheticScore?: number;
}

/** Encoded prompt for one side of classifier-free guidance. */
export interface Conditioning {
  /** Model folder whose text encoders produced it (a mismatch with the UNet is an error). */
  model: string;
  /**
   * true: diffusers' force_zeros_for_empty_prompt negative. `embeds`/`pooled` are null and
   * the denoiser uses zeros shaped like the positive side.
   */
  zeros: boolean;
  /** [1, seqLen, dim]: concat(te1 penultimate hidden state, te2 penultimate hidden state). */
  embeds: Float32Array | null;
  /** [1, pooledDim]: text_encoder_2 text_embeds. */
  pooled: Float32Array | null;
  seqLen: number;
  dim: number;
  pooledDim: number;
  size?: SizeConditioning;
}

/** A VAE posterior, NOT scaled: sample = (mean + std * randn) * scalingFactor. */
export interface LatentDist {
  mean: Float32Array;
  std: Float32Array;
  /** Old Optimum exports emit `latent_sample` (already random); mean is then that sample and std is 0. */
  sampledInGraph?: boolean;
}

/**
 * Latents and the inpainting extras. Shapes use h = height/8, w = width/8, 4 channels.
 * The seed lives on the sampler, so VAE sampling of `image`/`maskedImage` is deferred to
 * it (diffusers draws VAE samples and noise from one generator in a fixed order).
 */
export interface Latent {
  /** Pixel size the latents decode to. */
  width: number;
  height: number;
  /** Denoised (or otherwise given) latents, scaled: [batch, 4, h, w]. */
  samples?: Float32Array;
  batch: number;
  /** Posterior of the source image [1,4,h,w] (img2img, inpainting). */
  image?: LatentDist;
  /** Inpainting: binary latent mask [1,1,h,w] (1 = repaint), nearest-downsampled. */
  mask?: Float32Array;
  /** Inpainting: posterior of image * (mask < 0.5) [1,4,h,w]. */
  maskedImage?: LatentDist;
  /** VAE scaling factor the posteriors are to be scaled with (absent on empty latents). */
  scalingFactor?: number;
  /** Model folder of the VAE that produced it. */
  model?: string;
}

declare module '../engine/ports.js' {
  interface PortValueMap {
    LATENT: Latent;
    CONDITIONING: Conditioning;
  }
}
