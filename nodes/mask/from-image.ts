import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { maskFromChannel } from '../../server/image/comfy-ops.js';

export default defineNode({
  type: 'mask/from-image',
  title: 'Mask from image channel',
  description: 'One colour channel of the (first) image as a mask: value / 255, so white = 1 = repaint (ComfyUI ImageToMask).',
  inputs: { image: { type: 'IMAGE' } },
  outputs: { mask: { type: 'MASK' } },
  params: Type.Object(
    {
      channel: Type.Union([Type.Literal('red'), Type.Literal('green'), Type.Literal('blue')], { default: 'red', description: 'Channel to read.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params) {
    const first = inputs.image[0];
    if (!first) throw new NodeError('empty_image_batch', 'no image to read a mask from', { input: 'image' });
    return { mask: maskFromChannel(first, params.channel) };
  },
});
