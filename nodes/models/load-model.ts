import { defineNode, Type } from '../../server/engine/index.js';
import { modelRef } from '../../server/sdxl/model-refs.js';

export default defineNode({
  type: 'models/load-model',
  title: 'Load SDXL model',
  description:
    'Selects an SDXL model under the models directory — a .safetensors checkpoint in checkpoints/ (A1111 / ComfyUI / Civitai ' +
    'single files), a diffusers folder or an Optimum ONNX folder — and outputs references to its UNet, text encoders and VAE. ' +
    'Checkpoints and diffusers folders are compiled to ONNX on first use (progress is reported). Sessions are loaded lazily ' +
    'by the nodes that use them and pooled across runs. An empty name means the configured default model, else the first model found.',
  inputs: {},
  outputs: {
    unet: { type: 'UNET', description: 'The denoising UNet (9 input channels = inpainting model, 4 = base model).' },
    clip: { type: 'CLIP', description: 'Both text encoders and tokenizers.' },
    vae: { type: 'VAE', description: 'VAE encoder and decoder.' },
  },
  params: Type.Object(
    { model: Type.String({ default: '', 'x-choices': 'models', description: 'Checkpoint file name (e.g. "sd_xl_base_1.0_inpainting_0.1.safetensors"; the name without .safetensors also works when unambiguous) or model folder name; "" = default model.' }) },
    { additionalProperties: false },
  ),
  // The default model can change with the configuration and folders: key on the resolved name.
  fingerprint(params, ctx) {
    return ctx.services.models.catalog.resolveName(params.model);
  },
  async execute(_inputs, params, ctx) {
    // A checkpoint's first use compiles its graphs: report it as this node's progress.
    ctx.services.models.catalog.get(params.model, (done, total, what) => {
      ctx.progress(done, total);
      if (done < total) ctx.log('info', `compiling ${what} of ${params.model || 'the default model'}`);
    });
    const ref = modelRef(ctx.services.models, params.model);
    const info = ctx.services.models.info(ref);
    ctx.log('debug', `model ${info.name}: UNet in_channels ${info.unetInChannels}, time ids ${info.timeIdWidth}`);
    return { unet: ref, clip: { ...ref }, vae: { ...ref } };
  },
});
