import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { pasteImage } from '../../server/image/comfy-ops.js';

export default defineNode({
  type: 'image/paste',
  title: 'Paste image',
  description:
    'Pastes `source` into `destination` with its top-left corner at (x, y), through the mask when one is linked ' +
    '(resized to the source; 1 = take the source). resize_source first stretches the source to the destination ' +
    'size. One output per destination image (ComfyUI ImageCompositeMasked).',
  inputs: {
    destination: { type: 'IMAGE' },
    source: { type: 'IMAGE', description: 'Its first image is pasted (or the i-th, for a batch of equal length).' },
    mask: { type: 'MASK', optional: true },
  },
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object(
    {
      x: Type.Integer({ default: 0, minimum: 0, maximum: 16384, description: 'Left edge in the destination, px.' }),
      y: Type.Integer({ default: 0, minimum: 0, maximum: 16384, description: 'Top edge in the destination, px.' }),
      resize_source: Type.Boolean({ default: false, description: 'Stretch the source to the destination size first.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params) {
    if (!inputs.source.length) throw new NodeError('empty_image_batch', 'no source image', { input: 'source' });
    const image = await Promise.all(
      inputs.destination.map((dst, i) => {
        const src = inputs.source[inputs.source.length === inputs.destination.length ? i : 0]!;
        return pasteImage(dst, src, params.x, params.y, inputs.mask, params.resize_source);
      }),
    );
    return { image };
  },
});
