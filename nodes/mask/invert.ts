import { defineNode, Type } from '../../server/engine/index.js';
import { invertMask } from '../../server/image/mask.js';

export default defineNode({
  type: 'mask/invert',
  title: 'Invert mask',
  description: '1 − mask: swaps repaint and keep (ComfyUI InvertMask).',
  inputs: { mask: { type: 'MASK' } },
  outputs: { mask: { type: 'MASK' } },
  params: Type.Object({}, { additionalProperties: false }),
  async execute(inputs) {
    return { mask: invertMask(inputs.mask) };
  },
});
