import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { maskStats, prepareMask } from '../../server/image/mask.js';

export default defineNode({
  type: 'mask/prepare-mask',
  title: 'Prepare mask',
  description:
    'Invert, threshold (value >= threshold -> 1; 0 keeps grey levels), then grow (or shrink, negative) by a disc of ' +
    'N px: that is the hard mask the model sees. The soft mask adds a smooth feather of N px outside it, for ' +
    'compositing: pixels farther than feather px from the hard mask are never changed.',
  inputs: { mask: { type: 'MASK' } },
  outputs: {
    mask: { type: 'MASK', description: 'Hard mask: what is repainted.' },
    soft_mask: { type: 'MASK', description: 'Feathered mask for image/composite.' },
  },
  params: Type.Object(
    {
      threshold: Type.Number({ default: 0.5, minimum: 0, maximum: 1, description: 'Binarise at this value (>= is repaint); 0 keeps the soft mask.' }),
      grow: Type.Integer({ default: 0, minimum: -512, maximum: 512, description: 'Grow the mask by this many px (negative shrinks).' }),
      feather: Type.Integer({ default: 8, minimum: 0, maximum: 512, description: 'Width in px of the soft edge outside the mask.' }),
      invert: Type.Boolean({ default: false, description: 'Swap repaint and keep first.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    const { hard, soft } = prepareMask(inputs.mask, params);
    const stats = maskStats(hard);
    if (stats.empty) {
      throw new NodeError('mask_empty', `the prepared mask is empty${params.grow < 0 ? ` (shrinking by ${-params.grow} px removed it)` : ''}: nothing would be repainted`, {
        param: params.grow < 0 ? 'grow' : 'threshold',
      });
    }
    if (stats.full) ctx.log('warn', 'the prepared mask is all white: the whole image will be repainted');
    return { mask: hard, soft_mask: soft };
  },
});
