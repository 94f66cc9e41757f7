import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { encodeImage, fullMask } from '../../server/sdxl/latents.js';

export default defineNode({
  type: 'latent/vae-encode',
  title: 'VAE encode',
  description:
    'Encodes the image with the VAE (posterior kept unsampled: the sampler draws the VAE sample with its seed, or uses the ' +
    'mean). With a mask it also prepares the inpainting extras exactly as diffusers: mask binarised at 0.5, latent mask by ' +
    'nearest downsampling, and the masked image (repainted pixels set to grey) encoded. The image is resized (Lanczos) to ' +
    'width × height (0 = its own size), snapped down to the multiple the model accepts (32 for SDXL exports).',
  inputs: {
    vae: { type: 'VAE' },
    image: { type: 'IMAGE', description: 'Source image (the first of the batch is used).' },
    mask: { type: 'MASK', optional: true, description: 'Inpainting mask (white = repaint); the hard mask, not the feathered one.' },
  },
  outputs: { latent: { type: 'LATENT' } },
  params: Type.Object(
    {
      width: Type.Integer({ default: 0, minimum: 0, maximum: 8192, description: 'Working width; 0 = the image width.' }),
      height: Type.Integer({ default: 0, minimum: 0, maximum: 8192, description: 'Working height; 0 = the image height.' }),
      whole_image: Type.Boolean({
        default: false,
        description: 'Without a mask: repaint the whole image through the inpainting path (lets a 9-channel inpainting model do img2img).',
      }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    const image = inputs.image[0];
    if (!image) throw new NodeError('empty_image_batch', 'no image to encode', { input: 'image' });
    if (inputs.image.length > 1) ctx.log('warn', `VAE encode uses the first of ${inputs.image.length} images`);
    const mask = inputs.mask ?? (params.whole_image ? fullMask(image.width, image.height) : undefined);
    const latent = await encodeImage(ctx.services.models, inputs.vae, image, mask, { width: params.width, height: params.height });
    if (latent.width !== image.width || latent.height !== image.height) {
      ctx.log('info', `image resized from ${image.width}x${image.height} to ${latent.width}x${latent.height} for the model`);
    }
    return { latent };
  },
});
