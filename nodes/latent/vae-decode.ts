import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { decodeLatent } from '../../server/sdxl/latents.js';

export default defineNode({
  type: 'latent/vae-decode',
  title: 'VAE decode',
  description: 'Decodes latents to images: decoder(latents / scaling_factor) / 2 + 0.5, clamped to [0,1], rounded to 8 bits.',
  inputs: { vae: { type: 'VAE' }, latent: { type: 'LATENT' } },
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object({}, { additionalProperties: false }),
  async execute(inputs, _params, ctx) {
    if (!inputs.latent.samples) throw new NodeError('latent_not_denoised', 'the latent has no samples; connect a sampler output', { input: 'latent' });
    const decoded = await decodeLatent(ctx.services.models, inputs.vae, inputs.latent);
    return { image: decoded.images };
  },
});
