import { defineNode, Type } from '../../server/engine/index.js';
import { applyLoras, type LoraRequest } from '../../server/models/adapter-nodes.js';

export default defineNode({
  type: 'models/apply-lora',
  title: 'Apply LoRA',
  description:
    'Applies one or more LoRAs (kohya, LyCORIS LoCon or diffusers/PEFT safetensors) to the UNet and the text encoders. ' +
    'A LoRA is a file name in the models folder\'s loras/ directory, an uploaded file id, or an http(s) URL (downloaded once, ' +
    'kept by content hash). Weights are merged when a session is first needed and cached per (model, LoRAs, strengths). ' +
    'Nothing to apply = passthrough.',
  inputs: {
    unet: { type: 'UNET' },
    clip: { type: 'CLIP' },
  },
  outputs: {
    unet: { type: 'UNET', description: 'The UNet with the LoRAs (strength_model).' },
    clip: { type: 'CLIP', description: 'The text encoders with the LoRAs (strength_clip).' },
  },
  params: Type.Object(
    {
      lora: Type.String({ default: '', description: 'LoRA file name (loras/ folder), upload id or URL; "" = none.' }),
      strength_model: Type.Number({ default: 1, minimum: -10, maximum: 10, description: 'Strength on the UNet (0 = not applied).' }),
      strength_clip: Type.Number({ default: 1, minimum: -10, maximum: 10, description: 'Strength on the text encoders (0 = not applied).' }),
      loras: Type.Array(
        Type.Object(
          {
            path: Type.String({ minLength: 1, description: 'File name, upload id or URL.' }),
            scale: Type.Number({ default: 1, minimum: -10, maximum: 10, description: 'Strength on both UNet and text encoders.' }),
          },
          { additionalProperties: false },
        ),
        { default: [], maxItems: 16, description: 'More LoRAs, each at one scale for UNet and text encoders (the API\'s `loras`).' },
      ),
    },
    { additionalProperties: false },
  ),
  // A replaced file in the loras folder must not hit a cached output.
  async fingerprint(params, ctx) {
    const sources = [params.lora, ...params.loras.map((l) => l.path)].filter((s) => s.trim());
    return (await Promise.all(sources.map((s) => ctx.services.adapters.sources.fingerprint('lora', s)))).join('|');
  },
  async execute(inputs, params, ctx) {
    const requests: LoraRequest[] = [];
    if (params.lora.trim()) requests.push({ source: params.lora, strengthModel: params.strength_model, strengthClip: params.strength_clip, param: 'lora' });
    for (const l of params.loras) requests.push({ source: l.path, strengthModel: l.scale, strengthClip: l.scale, param: 'loras' });
    if (!requests.length) return { unet: inputs.unet, clip: inputs.clip };
    const { models, adapters } = ctx.services;
    return applyLoras(inputs.unet, inputs.clip, requests, { models, adapters, files: ctx.files, signal: ctx.signal, log: ctx.log });
  },
});
