// VAE encoder/decoder wrappers. The encoder's posterior is returned unsampled (mean, std)
// so the sampler can draw the VAE sample from its own seeded generator in diffusers' order.
// Above diffusers' size threshold (and unless tiling is off) both run tile by tile (vae-tiling.ts).
import type { InferenceSession } from 'onnxruntime-node';
import { floatInput, inputMeta, outputF32, type TensorMetadata } from '../models/ort-io.js';
import type { LatentDist } from './types.js';
import { decodeGeometry, decodeNeedsTiling, encodeGeometry, encodeNeedsTiling, tiledRun, type Planar, type TiledRunStats, type VaeTiling } from './vae-tiling.js';

/** What the encoder graph emits: moments (mean‖logvar) or, in old exports, a sample drawn in the graph. */
type EncoderOutput = 'latent_parameters' | 'latent_sample';

async function runEncoder(session: InferenceSession, meta: TensorMetadata, x: Planar): Promise<{ kind: EncoderOutput; out: Planar }> {
  const out = await session.run({ sample: floatInput(meta, x.data, [1, 3, x.height, x.width]) });
  // Optimum >= 1.23: `latent_parameters` = concat(mean, logvar); <= 1.22: `latent_sample` = mean + std · N(0,1).
  const kind: EncoderOutput = out.latent_parameters ? 'latent_parameters' : 'latent_sample';
  const name = out[kind] ? kind : session.outputNames[0]!;
  const dims = out[name]!.dims.map(Number);
  return { kind, out: { data: outputF32(out[name], name), channels: dims[1]!, height: dims[2]!, width: dims[3]! } };
}

/** diffusers DiagonalGaussianDistribution over moments [2c, h, w]: std = exp(0.5 · clamp(logvar, −30, 20)). */
function posteriorFromMoments(moments: Planar): LatentDist {
  const n = (moments.channels / 2) * moments.height * moments.width;
  const mean = moments.data.slice(0, n);
  const std = new Float32Array(n);
  for (let i = 0; i < n; i++) std[i] = Math.exp(0.5 * Math.min(20, Math.max(-30, moments.data[n + i]!)));
  return { mean, std };
}

/**
 * Encodes [1,3,H,W] in [-1,1]; returns the posterior over [1,4,H/8,W/8]. With `tiling` in `auto`
 * and the image above the tile size, encodes tile by tile and blends the moments (or, for old
 * exports, the in-graph samples) as diffusers' tiled_encode does.
 */
export async function vaeEncode(session: InferenceSession, image: Float32Array, height: number, width: number, tiling?: VaeTiling, stats?: TiledRunStats): Promise<LatentDist> {
  const meta = inputMeta(session, 'sample');
  const x: Planar = { data: image, channels: 3, height, width };
  let kind: EncoderOutput | undefined;
  const encode = async (tile: Planar): Promise<Planar> => {
    const r = await runEncoder(session, meta, tile);
    kind = r.kind;
    return r.out;
  };
  const out = encodeNeedsTiling(tiling, height, width) ? await tiledRun(x, encodeGeometry(tiling!.sizes), encode, stats) : await encode(x);
  if (kind === 'latent_parameters') return posteriorFromMoments(out);
  return { mean: out.data.slice(), std: new Float32Array(out.data.length), sampledInGraph: true };
}

/**
 * Decodes scaled latents [n,4,h,w] one image at a time (bounded memory at 1024²);
 * returns [n,3,H,W] in [0,1] = (decoder(latents / scalingFactor) / 2 + 0.5).clamp(0, 1).
 * With `tiling` in `auto` and a latent above the tile size, each image is decoded tile by
 * tile and blended (diffusers' tiled_decode) before the [0,1] mapping.
 */
export async function vaeDecode(
  session: InferenceSession,
  latents: Float32Array,
  n: number,
  h: number,
  w: number,
  scalingFactor: number,
  tiling?: VaeTiling,
  stats?: TiledRunStats,
): Promise<{ data: Float32Array; height: number; width: number }> {
  const meta = inputMeta(session, 'latent_sample');
  const decode = async (z: Planar): Promise<Planar> => {
    const out = await session.run({ latent_sample: floatInput(meta, z.data, [1, 4, z.height, z.width]) });
    const name = out.sample ? 'sample' : session.outputNames[0]!;
    const dims = out[name]!.dims.map(Number);
    return { data: outputF32(out[name], name), channels: dims[1]!, height: dims[2]!, width: dims[3]! };
  };
  const tiled = decodeNeedsTiling(tiling, h, w);
  const per = 4 * h * w;
  let outH = 0;
  let outW = 0;
  let result: Float32Array | undefined;
  for (let i = 0; i < n; i++) {
    const z = new Float32Array(per);
    for (let j = 0; j < per; j++) z[j] = latents[i * per + j]! / scalingFactor;
    const zp: Planar = { data: z, channels: 4, height: h, width: w };
    const x = tiled ? await tiledRun(zp, decodeGeometry(tiling!.sizes), decode, stats) : await decode(zp);
    outH = x.height;
    outW = x.width;
    result ??= new Float32Array(n * 3 * outH * outW);
    const off = i * 3 * outH * outW;
    for (let j = 0; j < x.data.length; j++) {
      const v = Math.fround(Math.fround(x.data[j]! / 2) + 0.5);
      result[off + j] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { data: result ?? new Float32Array(0), height: outH, width: outW };
}
