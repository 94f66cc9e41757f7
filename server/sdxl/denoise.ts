// The SDXL sampling loop, equal to diffusers' StableDiffusionXL{Inpaint,Img2Img,}Pipeline
// __call__ denoising (see test/fixtures/README.md §4). Mode follows the LATENT input:
//   mask present        -> inpainting (9-channel UNet: concat(latents, mask, masked-image
//                          latents); 4-channel UNet: blend (1-m)·noised(original) + m·latents
//                          after every step)
//   image / samples     -> img2img (strength slices the schedule, add_noise at t0)
//   only a size         -> txt2img (noise · init_noise_sigma)
//
// Seeds: image i draws from its own generator seeded with seed + i, in diffusers' order:
// VAE sample of the init image (when it is used) -> noise -> VAE sample of the masked image.
// With num_images 1 this equals diffusers with torch.Generator().manual_seed(seed); image i
// of a batch is reproducible alone with seed + i and num_images 1. (diffusers draws one
// [B,...] tensor from a single generator instead, so batches > 1 differ from diffusers.)
// Ancestral schedulers keep drawing their step noise from the image's generator, as diffusers
// passes its generator to scheduler.step. Each image has its own scheduler object.
import { NodeError } from '../engine/errors.js';
import type { ModelStore } from '../models/model-store.js';
import type { ModelRef } from '../models/refs.js';
import { floatInput, inputMeta } from '../models/ort-io.js';
import { applyGuidance } from './guidance.js';
import { sampleLatentDist, type RandnSource } from './latents.js';
import { timeIds } from './time-ids.js';
import type { Conditioning, Latent } from './types.js';
import { UnetRunner } from './unet.js';
import { makeScheduler, type SamplerScheduler } from './scheduler-adapter.js';
import type { TorchGenerator } from './rng.js';
import { controlResiduals, loadControls, type ControlApplication } from './controlnet.js';

const f = Math.fround;

export interface DenoiseOptions {
  steps: number;
  /** Classifier-free guidance scale; CFG runs only when > 1 (diffusers' rule). */
  guidance: number;
  /** 0..1; ignored for txt2img. */
  strength: number;
  guidanceRescale?: number;
  numImages: number;
  seed: number;
  scheduler: string;
  /** Scheduler config to use instead of the model folder's scheduler_config.json. */
  schedulerConfig?: Record<string, unknown>;
  /** 'sample': VAE posteriors are sampled with the seed (diffusers default); 'mean': posterior mean. */
  vaeMode: 'sample' | 'mean';
  /** Generator factory (TorchGenerator); one per image, seeded seed + i. */
  generator: (seed: number) => RandnSource;
  /** Creates the scheduler objects instead of `scheduler` by name (tests, custom schedules). */
  schedulerFactory?: () => SamplerScheduler;
  /** Noise per image supplied by the caller (golden replay) instead of drawing it. */
  noise?: Float32Array[];
  /** ControlNet guidance (summed over the list, as diffusers' MultiControlNet). */
  controls?: ControlApplication[];
  throwIfCancelled?: () => void;
  onStep?: (info: StepInfo) => void | Promise<void>;
}

export interface StepInfo {
  step: number;
  total: number;
  timestep: number;
  /** Latents after the step (after the inpaint blend), [B,4,h,w]. */
  latents: Float32Array;
  /** Model input of the 4 latent channels at this step (scaled), [B,4,h,w] and the guided prediction. */
  modelInput: Float32Array;
  noisePred: Float32Array;
}

export interface DenoiseResult {
  latent: Latent;
  timesteps: number[];
  initialLatents: Float32Array;
  /** Milliseconds inside ORT's run (UNet) in total and per step, for the overhead benchmark. */
  unetMs: number;
  unetRunMs: number[];
  /** Wall time of each step (before the onStep callback). */
  stepMs: number[];
}

/** diffusers get_timesteps: the last min(int(steps·strength), steps) steps (at least one). */
export function strengthStart(steps: number, strength: number): number {
  const init = Math.min(Math.floor(steps * strength), steps);
  return Math.min(Math.max(steps - init, 0), steps - 1);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function repeat(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length * n);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}

export async function denoise(
  store: ModelStore,
  unetRef: ModelRef,
  positive: Conditioning,
  negative: Conditioning | undefined,
  latent: Latent,
  opts: DenoiseOptions,
): Promise<DenoiseResult> {
  const info = store.info(unetRef);
  const B = opts.numImages;
  const { width, height } = latent;
  if (width % info.sizeMultiple || height % info.sizeMultiple) {
    throw new NodeError('bad_latent_size', `latent size ${width}x${height} is not a multiple of ${info.sizeMultiple}, which this UNet export requires`, { input: 'latent' });
  }
  const h = height / 8;
  const w = width / 8;
  const plane = h * w;
  const per = 4 * plane;
  const sf = latent.scalingFactor ?? info.vaeScalingFactor;
  const inpaint = latent.mask !== undefined;
  const hasSource = latent.samples !== undefined || latent.image !== undefined;
  const nine = info.unetInChannels === 9;
  if (nine && !inpaint) throw new NodeError('mask_required', `"${info.name}" is an inpainting model (9-channel UNet): it needs a mask; use a base model for txt2img/img2img`, { input: 'latent' });
  if (nine && !latent.maskedImage) throw new NodeError('bad_latent', 'inpainting latent has no masked-image latents', { input: 'latent' });
  if (inpaint && !hasSource) throw new NodeError('bad_latent', 'inpainting latent has no image latents', { input: 'latent' });
  if (!nine && info.unetInChannels !== 4) throw new NodeError('model_unsupported', `unsupported UNet in_channels ${info.unetInChannels}`, { input: 'unet' });

  // --- schedule: one scheduler per image (multistep state and ancestral noise stay per image) ---
  const makeOne = () => opts.schedulerFactory?.() ?? makeScheduler(opts.scheduler, opts.schedulerConfig ?? info.schedulerConfig);
  const scheds: SamplerScheduler[] = [];
  for (let i = 0; i < B; i++) scheds.push(makeOne());
  for (const s of scheds) s.setTimesteps(opts.steps);
  const txt2img = !hasSource;
  const start = txt2img ? 0 : strengthStart(opts.steps, opts.strength);
  const timesteps = scheds[0]!.timesteps.slice(start);
  if (!txt2img) for (const s of scheds) s.setBeginIndex(start);
  const strengthMax = txt2img || (inpaint && opts.strength >= 1);

  // --- per-image randomness, in diffusers' order --------------------------------
  const shape = [1, 4, h, w];
  const gens: RandnSource[] = [];
  const imageLatents = new Float32Array(B * per);
  const noise = new Float32Array(B * per);
  const maskedLatents = nine ? new Float32Array(B * per) : undefined;
  const needImage = !txt2img && (!inpaint || !nine || !strengthMax);
  for (let i = 0; i < B; i++) {
    const gen = opts.generator(opts.seed + i);
    gens.push(gen);
    const vaeGen = opts.vaeMode === 'sample' ? gen : undefined;
    if (needImage) {
      if (latent.samples) imageLatents.set(latent.samples.subarray((i % latent.batch) * per, ((i % latent.batch) + 1) * per), i * per);
      else imageLatents.set(sampleLatentDist(latent.image!, sf, vaeGen, shape), i * per);
    }
    const n = opts.noise?.[i] ?? gen.randn(shape);
    if (n.length !== per) throw new Error(`noise for image ${i} has ${n.length} values, expected ${per}`);
    noise.set(n, i * per);
    if (maskedLatents) maskedLatents.set(sampleLatentDist(latent.maskedImage!, sf, vaeGen, shape), i * per);
  }
  const slice = (x: Float32Array, i: number) => x.subarray(i * per, (i + 1) * per);

  let latents = new Float32Array(B * per);
  for (let i = 0; i < B; i++) {
    if (strengthMax) {
      const s = scheds[i]!.initNoiseSigma;
      const src = slice(noise, i);
      const dst = slice(latents, i);
      for (let j = 0; j < per; j++) dst[j] = f(src[j]! * s);
    } else scheds[i]!.addNoise(slice(imageLatents, i), slice(noise, i), timesteps[0]!, slice(latents, i));
  }
  const initialLatents = latents.slice();

  // --- conditioning batch: [negative × B; positive × B] under CFG ------------------
  const cfg = opts.guidance > 1;
  const rows = cfg ? 2 * B : B;
  const neg = negative && !negative.zeros ? negative : undefined;
  if (cfg && neg && (neg.dim !== positive.dim || neg.seqLen !== positive.seqLen)) {
    throw new NodeError('conditioning_mismatch', 'negative and positive conditioning have different shapes', { input: 'negative' });
  }
  const posE = positive.embeds!;
  const posP = positive.pooled!;
  const negE = neg?.embeds ?? new Float32Array(posE.length);
  const negP = neg?.pooled ?? new Float32Array(posP.length);
  const idW = info.timeIdWidth;
  const posIds = Float32Array.from(timeIds(width, height, idW, positive.size, false));
  const negIds = Float32Array.from(timeIds(width, height, idW, negative?.size ?? positive.size, true));
  const batchOf = (n: Float32Array, p: Float32Array) => (cfg ? concat([repeat(n, B), repeat(p, B)]) : repeat(p, B));
  const unetSession = await store.getSession(unetRef, 'unet');
  // Text encoders of another model folder are fine when their widths match this UNet's.
  const ehsDim = inputMeta(unetSession, 'encoder_hidden_states').shape[2];
  if (typeof ehsDim === 'number' && ehsDim !== positive.dim) {
    throw new NodeError('conditioning_mismatch', `conditioning width ${positive.dim} (from "${positive.model}") does not fit the UNet of "${info.name}" (${ehsDim})`, { input: 'positive' });
  }
  const unet = new UnetRunner(unetSession, {
    batch: rows,
    encoderHiddenStates: batchOf(negE, posE),
    seqLen: positive.seqLen,
    dim: positive.dim,
    textEmbeds: batchOf(negP, posP),
    pooledDim: positive.pooledDim,
    timeIds: batchOf(negIds, posIds),
    timeIdWidth: idW,
  });

  const controls = opts.controls?.length ? await loadControls(store, info, unetSession, opts.controls, rows, width, height) : [];
  const controlSample = controls.length ? new Float32Array(rows * per) : undefined;

  // --- the loop ---------------------------------------------------------------------
  const C = info.unetInChannels;
  const input = new Float32Array(rows * C * plane);
  // Constant channels of the 9-channel input: mask and masked-image latents, per row.
  if (nine) {
    for (let r = 0; r < rows; r++) {
      input.set(latent.mask!, r * C * plane + 4 * plane);
      input.set(slice(maskedLatents!, r % B), r * C * plane + 5 * plane);
    }
  }
  const scaled = new Float32Array(B * per);
  const guided = new Float32Array(B * per);
  let next = new Float32Array(B * per);
  const proper = new Float32Array(B * per);
  const mask = latent.mask;
  const stepMs: number[] = [];
  const unetRunMs: number[] = [];
  for (let k = 0; k < timesteps.length; k++) {
    opts.throwIfCancelled?.();
    const t0 = performance.now();
    const t = timesteps[k]!;
    for (let i = 0; i < B; i++) scheds[i]!.scaleModelInput(slice(latents, i), t, slice(scaled, i));
    for (let r = 0; r < rows; r++) input.set(slice(scaled, r % B), r * C * plane);
    let residuals = {};
    if (controlSample) {
      // ControlNets see the 4 scaled latent channels of every row, also next to a 9-channel UNet.
      for (let r = 0; r < rows; r++) controlSample.set(slice(scaled, r % B), r * per);
      const sample = floatInput(inputMeta(controls[0]!.session, 'sample'), controlSample, [rows, 4, h, w]);
      residuals = await controlResiduals(unetSession, controls, { ...unet.fixed, sample, timestep: unet.timestep(t) } as Parameters<typeof controlResiduals>[2], k, timesteps.length);
    }
    const before = unet.runMs;
    const pred = await unet.run(input, C, h, w, t, residuals);
    unetRunMs.push(unet.runMs - before);
    let eps: Float32Array;
    if (cfg) {
      applyGuidance(pred, B, per, opts.guidance, opts.guidanceRescale ?? 0, guided);
      eps = guided;
    } else eps = pred;
    for (let i = 0; i < B; i++) scheds[i]!.step(slice(eps, i), t, slice(latents, i), gens[i] as TorchGenerator, slice(next, i));
    [latents, next] = [next, latents];
    if (inpaint && !nine) {
      // 4-channel inpainting: re-noise the original to the next level and keep it outside the mask.
      for (let i = 0; i < B; i++) {
        if (k < timesteps.length - 1) scheds[i]!.addNoise(slice(imageLatents, i), slice(noise, i), timesteps[k + 1]!, slice(proper, i));
        else slice(proper, i).set(slice(imageLatents, i));
      }
      for (let i = 0; i < B; i++) {
        for (let c = 0; c < 4; c++) {
          const off = i * per + c * plane;
          for (let p = 0; p < plane; p++) {
            const m = mask![p]!;
            latents[off + p] = f(f(f(1 - m) * proper[off + p]!) + f(m * latents[off + p]!));
          }
        }
      }
    }
    stepMs.push(performance.now() - t0);
    await opts.onStep?.({ step: k + 1, total: timesteps.length, timestep: t, latents, modelInput: scaled, noisePred: eps });
  }
  return {
    latent: { width, height, batch: B, samples: latents, scalingFactor: sf, model: info.name },
    timesteps,
    initialLatents,
    unetMs: unet.runMs,
    unetRunMs,
    stepMs,
  };
}
