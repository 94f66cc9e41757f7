import { defineNode, Type } from '../../server/engine/index.js';
import { growMask } from '../../server/image/mask.js';

export default defineNode({
  type: 'mask/grow',
  title: 'Grow mask',
  description:
    'Grows the mask by a disc of N px (negative shrinks); grey levels are kept. Unlike mask/prepare-mask it neither ' +
    'thresholds nor refuses an empty result (ComfyUI GrowMask).',
  inputs: { mask: { type: 'MASK' } },
  outputs: { mask: { type: 'MASK' } },
  params: Type.Object(
    { grow: Type.Integer({ default: 0, minimum: -4096, maximum: 4096, description: 'px to grow (negative shrinks).' }) },
    { additionalProperties: false },
  ),
  async execute(inputs, params) {
    return { mask: growMask(inputs.mask, params.grow) };
  },
});
