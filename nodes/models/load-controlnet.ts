import { defineNode, Type } from '../../server/engine/index.js';
import { resolveControlNet } from '../../server/sdxl/controlnet-sources.js';

export default defineNode({
  type: 'models/load-controlnet',
  title: 'Load ControlNet',
  description:
    'Selects an SDXL ControlNet in diffusers format: a folder (config.json + diffusion_pytorch_model.safetensors) or a ' +
    '.safetensors file in the models folder\'s controlnet/ directory, an uploaded file id or an http(s) URL. It is compiled ' +
    'to ONNX on first use, like checkpoints. Connect it to Apply ControlNet.',
  inputs: {},
  outputs: { controlnet: { type: 'CONTROLNET' } },
  params: Type.Object(
    { controlnet: Type.String({ default: '', description: 'Folder or file name in models/controlnet/, upload id or URL.' }) },
    { additionalProperties: false },
  ),
  async fingerprint(params, ctx) {
    return ctx.services.adapters.sources.fingerprint('controlnet', params.controlnet);
  },
  async execute(_inputs, params, ctx) {
    const controlnet = await resolveControlNet(params.controlnet, { models: ctx.services.models, sources: ctx.services.adapters.sources, files: ctx.files, signal: ctx.signal });
    return { controlnet };
  },
});
