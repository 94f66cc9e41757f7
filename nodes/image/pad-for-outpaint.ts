import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { padForOutpaint } from '../../server/image/comfy-ops.js';

const side = (what: string) => Type.Integer({ default: 0, minimum: 0, maximum: 16384, description: `px added on the ${what}.` });

export default defineNode({
  type: 'image/pad-for-outpaint',
  title: 'Pad for outpainting',
  description:
    'Outpainting: adds a grey border and outputs the mask to repaint it (1 on the border, 0 on the image), with a ' +
    'quadratic ramp of `feathering` px into the image along the padded sides (ComfyUI ImagePadForOutpaint). Link ' +
    'image and mask to latent/vae-encode to let the sampler paint the border.',
  inputs: { image: { type: 'IMAGE' } },
  outputs: { image: { type: 'IMAGE' }, mask: { type: 'MASK', description: '1 = border to paint.' } },
  params: Type.Object(
    {
      left: side('left'),
      top: side('top'),
      right: side('right'),
      bottom: side('bottom'),
      feathering: Type.Integer({ default: 40, minimum: 0, maximum: 16384, description: 'px of soft transition inside the image.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    const first = inputs.image[0];
    if (!first) throw new NodeError('empty_image_batch', 'no image to pad', { input: 'image' });
    const w = first.width + params.left + params.right;
    const h = first.height + params.top + params.bottom;
    const max = ctx.services.config.maxImagePixels;
    if (w * h > max) throw new NodeError('image_too_large', `padded size ${w}x${h} is more than the limit of ${max} pixels`, { param: 'left' });
    const padded = inputs.image.map((im) => padForOutpaint(im, params, params.feathering));
    return { image: padded.map((p) => p.image), mask: padded[0]!.mask };
  },
});
