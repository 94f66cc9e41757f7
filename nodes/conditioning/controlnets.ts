import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { loadImage, withDetails } from '../../server/image/load.js';
import { validateWindow, type ControlApplication } from '../../server/sdxl/controlnet.js';
import { resolveControlNet } from '../../server/sdxl/controlnet-sources.js';

export default defineNode({
  type: 'conditioning/controlnets',
  title: 'ControlNets (list)',
  description:
    'The REST API\'s `controlnets`: loads each ControlNet (name in models/controlnet, upload or URL) and its control image ' +
    '(URL, data URI or upload) and applies them like chained Apply ControlNet nodes. An empty list = no guidance. ' +
    'With inpaint_control and the mask linked, masked pixels of that control image become -1.',
  inputs: {
    mask: { type: 'MASK', optional: true, description: 'The inpainting mask, for entries with inpaint_control.' },
  },
  outputs: { control: { type: 'CONTROL' } },
  params: Type.Object(
    {
      controlnets: Type.Array(
        Type.Object(
          {
            path: Type.String({ minLength: 1, description: 'ControlNet: folder or file name in models/controlnet, upload id or URL.' }),
            control_image_url: Type.String({ minLength: 1, description: 'Control image: http(s) URL, data URI or upload id.' }),
            conditioning_scale: Type.Number({ default: 1, minimum: 0, maximum: 10 }),
            start: Type.Number({ default: 0, minimum: 0, maximum: 1 }),
            end: Type.Number({ default: 1, minimum: 0, maximum: 1 }),
            inpaint_control: Type.Boolean({ default: false, description: 'Set masked pixels to -1 (inpainting ControlNets).' }),
          },
          { additionalProperties: false },
        ),
        { default: [], maxItems: 8 },
      ),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    const control: ControlApplication[] = [];
    for (const [i, c] of params.controlnets.entries()) {
      const param = `controlnets.${i}`;
      if (c.start >= c.end) throw new NodeError('invalid_param', `${param}: start (${c.start}) must be below end (${c.end})`, { param: `${param}.start` });
      validateWindow(c.start, c.end, `${param}.start`);
      const controlnet = await resolveControlNet(c.path, { models: ctx.services.models, sources: ctx.services.adapters.sources, files: ctx.files, signal: ctx.signal, param: `${param}.path` });
      let image;
      try {
        image = (await loadImage(c.control_image_url, { config: ctx.services.config, files: ctx.files, signal: ctx.signal, runId: ctx.runId })).image;
      } catch (err) {
        ctx.throwIfCancelled();
        throw withDetails(err, { param: `${param}.control_image_url` });
      }
      if (c.inpaint_control && !inputs.mask) throw new NodeError('invalid_input', `${param}: inpaint_control needs the mask input linked`, { input: 'mask' });
      control.push({ controlnet, image, scale: c.conditioning_scale, start: c.start, end: c.end, ...(c.inpaint_control && inputs.mask ? { mask: inputs.mask } : {}) });
    }
    return { control };
  },
});
