// Replays a diffusers golden case (test/fixtures/README.md §4 layout) through the same
// domain functions the nodes call: encodeConditioning -> encodeImage -> denoise ->
// decodeLatent. Everything is driven by params.json; nothing is special-cased per case.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeImage, decodeMask } from '../image/io.js';
import type { Mask, RgbImage } from '../image/types.js';
import type { ModelStore } from '../models/model-store.js';
import type { ModelRef } from '../models/refs.js';
import { denoise } from './denoise.js';
import { GOLDEN_HOOKS, type GoldenHookContext } from './golden-hooks.js';
import { decodeLatent, emptyLatent, encodeImage, type RandnSource } from './latents.js';
import { schedulerNameFor } from './scheduler-names.js';
import { encodeConditioning } from './text-encoding.js';
import type { Latent } from './types.js';
import type { ControlApplication } from './controlnet.js';

export interface GoldenParams {
  case?: string;
  pipeline: string;
  model: string;
  prompt: string;
  prompt_2?: string | null;
  negative_prompt?: string | null;
  negative_prompt_2?: string | null;
  num_inference_steps: number;
  guidance_scale: number;
  strength?: number | null;
  height: number;
  width: number;
  num_images_per_prompt?: number;
  guidance_rescale?: number;
  clip_skip?: number | null;
  eta?: number;
  original_size?: [number, number];
  target_size?: [number, number];
  crops_coords_top_left?: [number, number];
  scheduler: { class: string; config: Record<string, unknown> };
  noise_seed_for_reference_only?: number;
  inputs?: { image?: string; mask_image?: string };
  lora?: unknown;
  textual_inversion?: unknown;
  [k: string]: unknown;
}

export interface ReplayOptions {
  store: ModelStore;
  /** Draw the noise from the case's noise_seed_for_reference_only instead of reading noise.bin. */
  seedFromParams?: boolean;
  /** Extra CLI options (e.g. --lora-format) handed to the hooks. */
  options?: Record<string, string | boolean>;
  /** Model name to run instead of the case's `model` (a checkpoint given on the command line). */
  model?: string;
}

export interface ReplayResult {
  params: GoldenParams;
  batch: number;
  latentShape: number[];
  finalLatents: Float32Array;
  imageOut: Float32Array;
  imageShape: number[];
  promptEmbeds: Float32Array;
  promptEmbedsShape: number[];
  pooledPromptEmbeds: Float32Array;
  pooledShape: number[];
  timesteps: number[];
  initialLatents: Float32Array;
}

const LIMITS = { maxPixels: 1 << 28 };

async function readImage(file: string): Promise<RgbImage> {
  return (await decodeImage(new Uint8Array(readFileSync(file)), LIMITS)).image;
}

async function readMask(file: string): Promise<Mask> {
  return decodeMask(new Uint8Array(readFileSync(file)), LIMITS);
}

function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function repeatRows(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length * n);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}

const noGenerator = (): RandnSource => ({
  randn: () => {
    throw new Error('the golden replay uses supplied noise and the VAE mean; nothing may draw random numbers');
  },
});

export async function replayGoldenCase(caseDir: string, opts: ReplayOptions): Promise<ReplayResult> {
  const paramsFile = path.join(caseDir, 'params.json');
  if (!existsSync(paramsFile)) throw new Error(`${caseDir} has no params.json`);
  const params = JSON.parse(readFileSync(paramsFile, 'utf8')) as GoldenParams;
  const { store } = opts;
  const B = params.num_images_per_prompt ?? 1;
  const H = params.height;
  const W = params.width;
  const latentShape = [B, 4, H / 8, W / 8];
  const per = 4 * (H / 8) * (W / 8);

  // LoRA / textual inversion: hooks turn the case's entries into refs (and patch the store).
  let ref: ModelRef = { model: opts.model ?? params.model, loras: [], embeddings: [] };
  if (params.lora !== undefined || params.textual_inversion !== undefined) {
    if (!GOLDEN_HOOKS.length) throw new Error(`case ${params.case ?? caseDir} needs LoRA / textual-inversion support, but no golden hook is registered`);
    for (const hook of GOLDEN_HOOKS) {
      const ctx: GoldenHookContext = { params, caseDir, store, ref, options: opts.options ?? {} };
      ref = (await hook(ctx)) ?? ref;
    }
  }

  const cfg = params.guidance_scale > 1;
  // Options this replay does not implement fail loudly instead of giving a silently different result.
  for (const k of ['denoising_start', 'denoising_end', 'padding_mask_crop', 'timesteps', 'sigmas', 'ip_adapter_image', 'negative_original_size', 'negative_target_size', 'negative_crops_coords_top_left']) {
    if (params[k] !== undefined && params[k] !== null) throw new Error(`params.json sets ${k}, which the replay does not support`);
  }
  if (typeof params.prompt !== 'string') throw new Error('params.json prompt must be a single string (prompt batches are not supported; use num_images_per_prompt)');
  if (params.eta && params.scheduler.class === 'DDIMScheduler') throw new Error('DDIM with eta > 0 is not supported');
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const size = {
    ...(params.original_size ? { originalSize: params.original_size } : {}),
    ...(params.target_size ? { targetSize: params.target_size } : {}),
    ...(params.crops_coords_top_left ? { cropTopLeft: params.crops_coords_top_left } : {}),
    ...(num(params.aesthetic_score) !== undefined ? { aestheticScore: num(params.aesthetic_score) } : {}),
    ...(num(params.negative_aesthetic_score) !== undefined ? { negativeAestheticScore: num(params.negative_aesthetic_score) } : {}),
  };
  const cond = await encodeConditioning(store, ref, {
    prompt: params.prompt,
    prompt2: params.prompt_2 ?? null,
    negative: cfg ? params.negative_prompt ?? null : null,
    negative2: params.negative_prompt_2 ?? null,
    clipSkip: params.clip_skip ?? 0,
    size,
  });

  let latent: Latent;
  const pipeline = params.pipeline;
  if (/Inpaint/.test(pipeline) || /Img2Img/.test(pipeline)) {
    const imageFile = path.join(caseDir, params.inputs?.image ?? 'image.png');
    const image = await readImage(imageFile);
    const mask = /Inpaint/.test(pipeline) ? await readMask(path.join(caseDir, params.inputs?.mask_image ?? 'mask.png')) : undefined;
    latent = await encodeImage(store, ref, image, mask, { width: W, height: H });
  } else {
    latent = emptyLatent(W, H, store.info(ref).sizeMultiple);
  }

  let noise: Float32Array[];
  if (opts.seedFromParams) {
    const seed = params.noise_seed_for_reference_only;
    if (seed === undefined) throw new Error('params.json has no noise_seed_for_reference_only');
    const { TorchGenerator } = await import('./rng.js');
    // noise.bin was made as one torch.randn([B,4,h,w]) draw from manual_seed(seed).
    const all = new TorchGenerator(seed).randn(latentShape);
    noise = Array.from({ length: B }, (_, i) => all.slice(i * per, (i + 1) * per));
  } else {
    const all = readF32(path.join(caseDir, 'noise.bin'));
    if (all.length !== B * per) throw new Error(`noise.bin has ${all.length} values, expected ${B * per} for ${latentShape.join('x')}`);
    noise = Array.from({ length: B }, (_, i) => all.slice(i * per, (i + 1) * per));
  }

  const controls = params.controlnet ? [await goldenControl(params, caseDir, opts)] : undefined;
  const result = await denoise(store, ref, cond.positive, cfg ? cond.negative : undefined, latent, {
    ...(controls ? { controls } : {}),
    steps: params.num_inference_steps,
    guidance: params.guidance_scale,
    strength: params.strength ?? 1,
    guidanceRescale: params.guidance_rescale ?? 0,
    numImages: B,
    seed: 0,
    scheduler: schedulerNameFor(params.scheduler.class, params.scheduler.config),
    schedulerConfig: params.scheduler.config,
    vaeMode: 'mean',
    generator: noGenerator,
    noise,
  });
  const decoded = await decodeLatent(store, ref, result.latent);
  const pos = cond.positive;
  return {
    params,
    batch: B,
    latentShape,
    finalLatents: result.latent.samples!,
    imageOut: decoded.tensor,
    imageShape: [B, 3, decoded.height, decoded.width],
    promptEmbeds: repeatRows(pos.embeds!, B),
    promptEmbedsShape: [B, pos.seqLen, pos.dim],
    pooledPromptEmbeds: repeatRows(pos.pooled!, B),
    pooledShape: [B, pos.pooledDim],
    timesteps: result.timesteps,
    initialLatents: result.initialLatents,
  };
}

interface GoldenControlNet {
  folder: string;
  conditioning_scale: number;
  control_guidance_start: number;
  control_guidance_end: number;
  control_image?: string;
  guess_mode?: boolean;
}

/** The case's ControlNet (params.json `controlnet`; its folder relative to the fixtures root, or --controlnet). */
async function goldenControl(params: GoldenParams, caseDir: string, opts: ReplayOptions): Promise<ControlApplication> {
  const c = params.controlnet as GoldenControlNet;
  if (c.guess_mode) throw new Error('guess_mode ControlNet cases are not supported');
  const override = opts.options?.controlnet;
  const folder = typeof override === 'string' ? path.resolve(override) : path.resolve(caseDir, '..', '..', c.folder);
  return {
    controlnet: { path: folder, name: path.basename(folder) },
    image: await readImage(path.join(caseDir, c.control_image ?? 'control_image.png')),
    scale: c.conditioning_scale,
    start: c.control_guidance_start,
    end: c.control_guidance_end,
  };
}

/** Writes the outputs in the fixtures' dtype and layout (raw little-endian float32, C order). */
export async function writeReplayOutputs(r: ReplayResult, outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files: [string, Float32Array, number[]][] = [
    ['final_latents.bin', r.finalLatents, r.latentShape],
    ['image_out.bin', r.imageOut, r.imageShape],
    ['prompt_embeds.bin', r.promptEmbeds, r.promptEmbedsShape],
    ['pooled_prompt_embeds.bin', r.pooledPromptEmbeds, r.pooledShape],
    ['timesteps.bin', Float32Array.from(r.timesteps), [r.timesteps.length]],
  ];
  const tensors: Record<string, { file: string; dtype: string; shape: number[] }> = {};
  for (const [file, data, shape] of files) {
    await writeFile(path.join(outDir, file), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    tensors[file.replace('.bin', '')] = { file, dtype: 'float32', shape };
  }
  await writeFile(path.join(outDir, 'outputs.json'), `${JSON.stringify({ case: r.params.case, tensors }, null, 2)}\n`);
  return files.map(([f]) => f);
}
