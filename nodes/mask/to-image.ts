import { defineNode, Type } from '../../server/engine/index.js';
import { maskToImage } from '../../server/image/comfy-ops.js';
import type { ImageBatch } from '../../server/image/types.js';

export default defineNode({
  type: 'mask/to-image',
  title: 'Mask to image',
  description: 'The mask as a grey image (1 = white), e.g. to save or preview it (ComfyUI MaskToImage).',
  inputs: { mask: { type: 'MASK' } },
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object({}, { additionalProperties: false }),
  async execute(inputs) {
    return { image: [maskToImage(inputs.mask)] as ImageBatch };
  },
});
