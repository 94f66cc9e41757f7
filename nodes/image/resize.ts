import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { resizeImage } from '../../server/image/resize.js';

export default defineNode({
  type: 'image/resize',
  title: 'Resize image',
  description:
    'Resizes with a lanczos3 filter (or the chosen kernel). fit: keep the aspect ratio, as large as fits in width x height; fill: keep the ' +
    'aspect ratio, cover width x height and crop the centre; exact: stretch to width x height.',
  inputs: { image: { type: 'IMAGE' } },
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object(
    {
      width: Type.Integer({ default: 1024, minimum: 1, maximum: 16384, description: 'Target width in px.' }),
      height: Type.Integer({ default: 1024, minimum: 1, maximum: 16384, description: 'Target height in px.' }),
      mode: Type.Union([Type.Literal('fit'), Type.Literal('fill'), Type.Literal('exact')], { default: 'fit', description: 'How to treat the aspect ratio.' }),
      kernel: Type.Union([Type.Literal('lanczos3'), Type.Literal('nearest'), Type.Literal('linear'), Type.Literal('cubic')], {
        default: 'lanczos3',
        description: 'Resampling filter.',
      }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    const max = ctx.services.config.maxImagePixels;
    if (params.width * params.height > max) {
      throw new NodeError('image_too_large', `${params.width}x${params.height} is more than the limit of ${max} pixels`, { param: 'width' });
    }
    return { image: await Promise.all(inputs.image.map((img) => resizeImage(img, params.width, params.height, params.mode, params.kernel))) };
  },
});
