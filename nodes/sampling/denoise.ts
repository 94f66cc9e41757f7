// Semantics (README-worthy):
// - Mode follows the latent: a mask -> inpainting (9-channel UNet: concat(latents, mask,
//   masked-image latents); 4-channel base UNet: per-step blend with the re-noised
//   original outside the mask); an image -> img2img; only a size -> txt2img.
// - strength (0.01-1, default 0.95): the last min(int(steps*strength), steps) scheduler
//   steps run (at least one). Inpainting at strength 1 starts from pure noise
//   (noise * init_noise_sigma); otherwise the image latents are noised to the first step.
// - CFG runs only when guidance > 1 (batch [negative; positive]); guidance_rescale as diffusers.
// - Seeds: image i draws from TorchGenerator(seed + i) in diffusers' order (VAE sample of the
//   init image when used -> noise -> VAE sample of the masked image), so num_images 1 equals
//   diffusers with torch.Generator().manual_seed(seed), and image i of a batch is
//   reproducible alone with seed + i. vae_sample off uses the VAE posterior mean instead.
import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { runDenoiseNode, SCHEDULER_CHOICES } from '../../server/sdxl/denoise-node.js';

export default defineNode({
  type: 'sampling/denoise',
  title: 'Denoise (SDXL sampler)',
  description:
    'Runs the SDXL denoising loop (diffusers-equivalent) for inpainting, img2img or txt2img, chosen by the latent input. ' +
    'Cancellable between steps; reports per-step progress with small latent previews.',
  inputs: {
    unet: { type: 'UNET' },
    positive: { type: 'CONDITIONING' },
    negative: { type: 'CONDITIONING', optional: true, description: 'Unlinked = zeros (used only when guidance > 1).' },
    latent: { type: 'LATENT', description: 'From VAE encode (img2img / inpainting, with mask) or Empty latent (txt2img).' },
    control: { type: 'CONTROL', optional: true, description: 'ControlNet guidance from Apply ControlNet (several chain: residuals are summed).' },
  },
  outputs: { latent: { type: 'LATENT' } },
  params: Type.Object(
    {
      seed: Type.Integer({ default: 0, minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Image i uses seed + i.' }),
      steps: Type.Integer({ default: 25, minimum: 1, maximum: 500, description: 'Scheduler steps before strength slicing.' }),
      guidance: Type.Number({ default: 7.5, minimum: 0, maximum: 50, description: 'Classifier-free guidance scale (> 1 enables CFG).' }),
      strength: Type.Number({ default: 0.95, minimum: 0.01, maximum: 1, description: 'How much of the schedule runs (img2img/inpainting).' }),
      scheduler: Type.Union(
        SCHEDULER_CHOICES.map((s) => Type.Literal(s)),
        { default: 'default', description: '"default" = the model folder\'s scheduler_config.json.' },
      ),
      guidance_rescale: Type.Number({ default: 0, minimum: 0, maximum: 1, description: 'diffusers guidance_rescale (0 = off).' }),
      num_images: Type.Integer({ default: 1, minimum: 1, maximum: 16 }),
      vae_sample: Type.Boolean({ default: true, description: 'Sample the VAE posterior with the seed (diffusers); off = posterior mean.' }),
      preview: Type.Boolean({ default: true, description: 'Stream a small JPEG preview with each progress step.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    const { config, models } = ctx.services;
    if (params.steps > config.maxSteps) throw new NodeError('too_many_steps', `steps ${params.steps} exceeds the limit ${config.maxSteps}`, { param: 'steps' });
    if (params.num_images > config.maxNumImages) {
      throw new NodeError('too_many_images', `num_images ${params.num_images} exceeds the limit ${config.maxNumImages}`, { param: 'num_images' });
    }
    const latent = await runDenoiseNode(models, inputs, params, ctx);
    return { latent };
  },
});
