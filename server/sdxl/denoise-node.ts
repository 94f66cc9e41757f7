// The sampling/denoise node's glue: params -> denoise(), with cancellation, progress and
// previews wired to the execution context.
import { CancelledError, NodeError } from '../engine/errors.js';
import type { ExecutionContext } from '../engine/context.js';
import type { ModelStore } from '../models/model-store.js';
import type { ModelRef } from '../models/refs.js';
import { denoise } from './denoise.js';
import { createStepPreviewer } from './preview.js';
import { TorchGenerator } from './rng.js';
import { resolveScheduler, SCHEDULER_CHOICES } from './scheduler-names.js';
import type { Conditioning, Latent } from './types.js';
import type { ControlApplication } from './controlnet.js';

export { SCHEDULER_CHOICES };

export interface DenoiseParams {
  seed: number;
  steps: number;
  guidance: number;
  strength: number;
  scheduler: string;
  guidance_rescale: number;
  num_images: number;
  vae_sample: boolean;
  preview: boolean;
}

export interface DenoiseInputs {
  unet: ModelRef;
  positive: Conditioning;
  negative?: Conditioning;
  latent: Latent;
  /** ControlNet guidance (conditioning/apply-controlnet). */
  control?: ControlApplication[];
}

export async function runDenoiseNode(store: ModelStore, inputs: DenoiseInputs, p: DenoiseParams, ctx: ExecutionContext): Promise<Latent> {
  const info = store.info(inputs.unet);
  const sched = resolveScheduler(p.scheduler, info.schedulerConfig);
  const previewer = p.preview ? createStepPreviewer(sched.config, inputs.latent.height, inputs.latent.width) : undefined;
  let lastPreview = 0;
  try {
    const res = await denoise(store, inputs.unet, inputs.positive, inputs.negative, inputs.latent, {
      ...(inputs.control?.length ? { controls: inputs.control } : {}),
      steps: p.steps,
      guidance: p.guidance,
      strength: p.strength,
      guidanceRescale: p.guidance_rescale,
      numImages: p.num_images,
      seed: p.seed,
      scheduler: sched.name,
      schedulerConfig: sched.config,
      vaeMode: p.vae_sample ? 'sample' : 'mean',
      generator: (seed) => new TorchGenerator(seed),
      throwIfCancelled: () => ctx.throwIfCancelled(),
      onStep: async (s) => {
        // Previews at most ~4 per second, and always for the last step.
        const now = performance.now();
        if (previewer && (now - lastPreview > 250 || s.step === s.total)) {
          lastPreview = now;
          ctx.progress(s.step, s.total, await previewer(s));
        } else ctx.progress(s.step, s.total);
      },
    });
    ctx.log('debug', `denoised ${res.timesteps.length} steps`, { unetMs: Math.round(res.unetMs), scheduler: sched.name });
    return res.latent;
  } catch (err) {
    if (err instanceof CancelledError || err instanceof NodeError) throw err;
    throw new NodeError('denoise_failed', `denoising failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
