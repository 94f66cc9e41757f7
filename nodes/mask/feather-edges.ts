import { defineNode, Type } from '../../server/engine/index.js';
import { featherEdges } from '../../server/image/comfy-ops.js';

const side = (what: string) => Type.Integer({ default: 0, minimum: 0, maximum: 16384, description: `Ramp width in px from the ${what} edge.` });

export default defineNode({
  type: 'mask/feather-edges',
  title: 'Feather mask edges',
  description:
    'Fades the mask towards the image borders: the first N px from each edge are scaled by a linear ramp ' +
    '(ComfyUI FeatherMask). For a soft edge around the masked shape use mask/prepare-mask.',
  inputs: { mask: { type: 'MASK' } },
  outputs: { mask: { type: 'MASK' } },
  params: Type.Object({ left: side('left'), top: side('top'), right: side('right'), bottom: side('bottom') }, { additionalProperties: false }),
  async execute(inputs, params) {
    return { mask: featherEdges(inputs.mask, params) };
  },
});
