import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { fillMasked } from '../../server/image/fill.js';
import { resizeMask } from '../../server/image/mask.js';

export default defineNode({
  type: 'image/fill-masked',
  title: 'Fill masked area',
  description:
    'Pre-fills the masked area (mask > 0): original keeps it; blur pulls colours in smoothly from the surroundings; ' +
    'telea is Telea\'s fast-marching inpainting (continues edges and gradients); patchmatch copies texture from the ' +
    'rest of the image (best for large areas of texture); noise is seeded random colour. Pixels outside the mask are unchanged.',
  inputs: {
    image: { type: 'IMAGE' },
    mask: { type: 'MASK', description: 'Area to fill (the hard mask); resized to the image when its size differs.' },
  },
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object(
    {
      method: Type.Union(
        [Type.Literal('original'), Type.Literal('blur'), Type.Literal('telea'), Type.Literal('patchmatch'), Type.Literal('noise')],
        { default: 'telea', description: 'How to fill the masked area.' },
      ),
      seed: Type.Integer({ default: 0, minimum: 0, maximum: 4294967295, description: 'Seed for patchmatch and noise.' }),
      radius: Type.Integer({ default: 5, minimum: 1, maximum: 64, description: 'Neighbourhood radius in px for telea.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    if (inputs.image.length === 0) throw new NodeError('empty_image_batch', 'no image to fill', { input: 'image' });
    const out = [];
    for (let i = 0; i < inputs.image.length; i++) {
      ctx.throwIfCancelled();
      const img = inputs.image[i]!;
      const mask = resizeMask(inputs.mask, img.width, img.height);
      const n = inputs.image.length;
      out.push(
        await fillMasked(img, mask, params.method, {
          seed: params.seed + i,
          radius: params.radius,
          // Yield between patchmatch iterations so a cancel can arrive and stop the run.
          checkpoint: async (done, total) => {
            await new Promise((r) => setImmediate(r));
            ctx.throwIfCancelled();
            ctx.progress(i * total + done, n * total);
          },
        }),
      );
      ctx.progress(i + 1, n);
    }
    return { image: out };
  },
});
