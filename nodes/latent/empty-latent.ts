import { defineNode, Type } from '../../server/engine/index.js';
import { emptyLatent } from '../../server/sdxl/latents.js';

export default defineNode({
  type: 'latent/empty-latent',
  title: 'Empty latent (txt2img)',
  description:
    'A latent of the given size with no image: the sampler starts from pure noise (text-to-image). Sides are snapped down ' +
    'to the multiple the model accepts (from the linked UNet, else 32).',
  inputs: { unet: { type: 'UNET', optional: true, description: 'Used only to learn the size multiple.' } },
  outputs: { latent: { type: 'LATENT' } },
  params: Type.Object(
    {
      width: Type.Integer({ default: 1024, minimum: 32, maximum: 8192 }),
      height: Type.Integer({ default: 1024, minimum: 32, maximum: 8192 }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    const multiple = inputs.unet ? ctx.services.models.info(inputs.unet).sizeMultiple : 32;
    return { latent: emptyLatent(params.width, params.height, multiple) };
  },
});
