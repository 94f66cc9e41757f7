import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { uncrop } from '../../server/image/crop.js';

export default defineNode({
  type: 'image/uncrop',
  title: 'Uncrop',
  description:
    'Puts a processed crop (from image/crop-to-mask) back into the original image: scales it back to the box size ' +
    '(lanczos) and pastes it, through the mask when one is linked (crop-sized or original-sized; soft edges blend), ' +
    'otherwise over the whole box. Pixels outside the box, or where the mask is 0, stay identical.',
  inputs: {
    original: { type: 'IMAGE', description: 'The image the crop was taken from.' },
    image: { type: 'IMAGE', description: 'The processed crop(s); one output per image.' },
    crop: { type: 'CROP' },
    mask: { type: 'MASK', optional: true, description: 'Where to paste (1 = take the crop).' },
  },
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object({}, { additionalProperties: false }),
  async execute(inputs) {
    if (inputs.original.length === 0) throw new NodeError('empty_image_batch', 'no original image', { input: 'original' });
    const out = [];
    for (let i = 0; i < inputs.image.length; i++) {
      const original = inputs.original[Math.min(i, inputs.original.length - 1)]!;
      try {
        out.push(await uncrop(original, inputs.image[i]!, inputs.crop, inputs.mask));
      } catch (err) {
        throw new NodeError('crop_mismatch', (err as Error).message, { input: 'original' });
      }
    }
    return { image: out };
  },
});
