import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { validateWindow, type ControlApplication } from '../../server/sdxl/controlnet.js';

export default defineNode({
  type: 'conditioning/apply-controlnet',
  title: 'Apply ControlNet',
  description:
    'Guides denoising with a ControlNet and a control image, exactly as diffusers\' SDXL ControlNet pipelines: the image is ' +
    'resized to the working size and used in [0, 1]; strength is controlnet_conditioning_scale; start/end are ' +
    'control_guidance_start/end as fractions of the steps that run. Chain several (the residuals are summed). With a mask ' +
    'linked, masked pixels become -1 (the control image of inpainting ControlNets).',
  inputs: {
    controlnet: { type: 'CONTROLNET' },
    image: { type: 'IMAGE', description: 'Control image (edges, depth, pose, …); the first image of the batch is used.' },
    mask: { type: 'MASK', optional: true, description: 'Inpaint control: pixels where the mask is > 0.5 are set to -1.' },
    control: { type: 'CONTROL', optional: true, description: 'Earlier ControlNets to apply too.' },
  },
  outputs: { control: { type: 'CONTROL' } },
  params: Type.Object(
    {
      strength: Type.Number({ default: 1, minimum: 0, maximum: 10, description: 'controlnet_conditioning_scale (0 = no effect).' }),
      start: Type.Number({ default: 0, minimum: 0, maximum: 1, description: 'Fraction of the steps run before the ControlNet starts.' }),
      end: Type.Number({ default: 1, minimum: 0, maximum: 1, description: 'Fraction of the steps run after which it stops.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params) {
    if (params.start >= params.end) throw new NodeError('invalid_param', `start (${params.start}) must be below end (${params.end})`, { param: 'start' });
    validateWindow(params.start, params.end);
    const image = inputs.image[0];
    if (!image) throw new NodeError('invalid_input', 'the control image batch is empty', { input: 'image' });
    const app: ControlApplication = { controlnet: inputs.controlnet, image, scale: params.strength, start: params.start, end: params.end, ...(inputs.mask ? { mask: inputs.mask } : {}) };
    const control: ControlApplication[] = [...(inputs.control ?? []), app];
    return { control };
  },
});
