import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { compositeImage } from '../../server/image/composite.js';
import { resizeImage } from '../../server/image/resize.js';

export default defineNode({
  type: 'image/composite',
  title: 'Composite',
  description:
    'Pastes generated pixels into the original through the (feathered) mask: out = original·(1−m) + generated·m. ' +
    'Where the mask is 0 the original pixel is kept byte for byte (save as PNG to keep that). Generated images of ' +
    'another size are resized to the original first (lanczos). color_match corrects a colour shift of the generated ' +
    'image, measured in a ring around the mask where generated and original should agree.',
  inputs: {
    original: { type: 'IMAGE', description: 'The source image (batch of one, or one per generated image).' },
    generated: { type: 'IMAGE', description: 'Generated image(s); one output per image.' },
    mask: { type: 'MASK', description: 'Soft mask (mask/prepare-mask soft_mask); 1 = take generated.' },
  },
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object(
    { color_match: Type.Boolean({ default: false, description: 'Match the generated colours to the original around the mask.' }) },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    if (inputs.original.length === 0) throw new NodeError('empty_image_batch', 'no original image', { input: 'original' });
    if (inputs.generated.length === 0) throw new NodeError('empty_image_batch', 'no generated image', { input: 'generated' });
    const out = [];
    for (let i = 0; i < inputs.generated.length; i++) {
      ctx.throwIfCancelled();
      const original = inputs.original[Math.min(i, inputs.original.length - 1)]!;
      out.push(
        await compositeImage(original, inputs.generated[i]!, inputs.mask, {
          colorMatch: params.color_match,
          resize: (img, w, h) => resizeImage(img, w, h, 'exact'),
        }),
      );
    }
    return { image: out };
  },
});
