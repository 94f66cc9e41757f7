// Image/mask -> LATENT (VAE encode path) and LATENT -> images (decode path): the domain
// functions the latent/* nodes call and the golden replay calls.
import type { Mask, RgbImage } from '../image/types.js';
import type { ModelStore } from '../models/model-store.js';
import type { ModelInfo } from '../models/catalog.js';
import type { ModelRef } from '../models/refs.js';
import {
  binarizeMask,
  downsampleNearest,
  imageToTensor,
  maskedImage,
  resizeImage,
  resizeMask,
  snapSize,
  tensorToImages,
} from './image-tensors.js';
import type { Latent, LatentDist } from './types.js';
import { vaeDecode, vaeEncode } from './vae.js';
import { decodeNeedsTiling, encodeNeedsTiling, type VaeTiling } from './vae-tiling.js';

export interface EncodeOptions {
  /** Target size; 0 = the image's own size. Both are snapped down to the model's size multiple. */
  width?: number;
  height?: number;
}

/** The size the pipeline works at for a requested size. */
export function workingSize(store: ModelStore, ref: ModelRef, width: number, height: number): { width: number; height: number } {
  const m = store.info(ref).sizeMultiple;
  return { width: snapSize(width, m), height: snapSize(height, m) };
}

/** The model's VAE tile sizes and the configured mode (MASKFLOW_VAE_TILING; default `auto`). */
export function vaeTilingFor(store: ModelStore, info: Pick<ModelInfo, 'vaeTileSampleSize' | 'vaeTileLatentSize'>): VaeTiling {
  return { mode: store.options.inference.vaeTiling ?? 'auto', sizes: { sample: info.vaeTileSampleSize, latent: info.vaeTileLatentSize } };
}

/**
 * VAE-encodes the image (resized with Lanczos to the snapped size when needed) and, with
 * a mask, the diffusers inpainting extras: mask binarised at >= 0.5, latent mask by
 * nearest downsampling, masked image = image * (mask < 0.5) encoded. Posteriors stay
 * unsampled; the sampler draws from them with its seed. Images larger than the VAE's tile
 * size are encoded in blended tiles unless tiling is off (vae-tiling.ts).
 */
export async function encodeImage(store: ModelStore, vae: ModelRef, image: RgbImage, mask: Mask | undefined, opts: EncodeOptions = {}): Promise<Latent> {
  const info = store.info(vae);
  const { width, height } = workingSize(store, vae, opts.width || image.width, opts.height || image.height);
  const img = await resizeImage(image, width, height);
  const x = imageToTensor(img);
  const session = await store.getSession(vae, 'vae_encoder');
  const tiling = vaeTilingFor(store, info);
  if (encodeNeedsTiling(tiling, height, width)) store.options.logger?.debug({ model: info.name, width, height, tile: tiling.sizes.sample }, 'VAE encode tiled');
  const dist = await vaeEncode(session, x, height, width, tiling);
  const latent: Latent = { width, height, batch: 0, image: dist, scalingFactor: info.vaeScalingFactor, model: info.name };
  if (mask) {
    const bin = binarizeMask(resizeMask(mask, width, height));
    latent.mask = downsampleNearest(bin, height, width, height / 8, width / 8);
    latent.maskedImage = await vaeEncode(session, maskedImage(x, bin), height, width, tiling);
  }
  return latent;
}

/** All-repaint mask (img2img through the inpainting path). */
export function fullMask(width: number, height: number): Mask {
  return { width, height, data: new Float32Array(width * height).fill(1) };
}

/** A latent with only a size (txt2img). */
export function emptyLatent(width: number, height: number, multiple = 8): Latent {
  return { width: snapSize(width, multiple), height: snapSize(height, multiple), batch: 0 };
}

/** Minimal generator interface (server/sdxl/rng.ts TorchGenerator). */
export interface RandnSource {
  randn(shape: number[]): Float32Array;
}

/**
 * diffusers' retrieve_latents × scaling_factor: the posterior mean, or with a generator
 * mean + std · randn (DiagonalGaussianDistribution.sample), in float32.
 */
export function sampleLatentDist(dist: LatentDist, scalingFactor: number, gen: RandnSource | undefined, shape: number[]): Float32Array {
  const out = new Float32Array(dist.mean.length);
  if (!gen || dist.sampledInGraph) {
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(dist.mean[i]! * scalingFactor);
    return out;
  }
  const eps = gen.randn(shape);
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.fround(Math.fround(dist.mean[i]! + Math.fround(dist.std[i]! * eps[i]!)) * scalingFactor);
  }
  return out;
}

export interface Decoded {
  images: RgbImage[];
  /** [n,3,H,W] in [0,1] (what diffusers returns as output_type "pt"/"np"). */
  tensor: Float32Array;
  width: number;
  height: number;
}

/** Decodes the latent's samples; latents larger than the VAE's tile size are decoded in blended tiles unless tiling is off. */
export async function decodeLatent(store: ModelStore, vae: ModelRef, latent: Latent): Promise<Decoded> {
  if (!latent.samples || !latent.batch) throw new Error('latent has no samples to decode (connect it to a sampler output)');
  const info = store.info(vae);
  const session = await store.getSession(vae, 'vae_decoder');
  const h = latent.height / 8;
  const w = latent.width / 8;
  const tiling = vaeTilingFor(store, info);
  if (decodeNeedsTiling(tiling, h, w)) store.options.logger?.debug({ model: info.name, width: latent.width, height: latent.height, tile: tiling.sizes.sample }, 'VAE decode tiled');
  const out = await vaeDecode(session, latent.samples, latent.batch, h, w, info.vaeScalingFactor, tiling);
  return { images: tensorToImages(out.data, latent.batch, out.height, out.width), tensor: out.data, width: out.width, height: out.height };
}
