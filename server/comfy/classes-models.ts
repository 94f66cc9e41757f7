// ComfyUI classes that load and condition models: checkpoints, CLIP text encoding, LoRAs,
// ControlNets (inputs as in ComfyUI's nodes.py / nodes_clip_sdxl.py).
import type { ComfyClassDef } from './spec.js';
import { MAX_RESOLUTION, link, int, float, combo, text, checkpointClip, encodeText, applyControlNet } from './class-helpers.js';

export const MODEL_CLASSES: Record<string, ComfyClassDef> = {
  ControlNetLoader: {
    display: 'Load ControlNet Model',
    category: 'loaders',
    description: 'Loads an SDXL ControlNet in diffusers format (a folder or .safetensors file in models/controlnet); compiled by maskflow on first use.',
    required: { control_net_name: combo((env) => env.controlnets(), { tooltip: 'Folder or file in models/controlnet.' }) },
    outputs: [['CONTROL_NET', 'CONTROL_NET']],
    async translate(t) {
      return [[t.add('models/load-controlnet', { controlnet: t.value('control_net_name') }), 'controlnet']];
    },
  },
  ControlNetApply: {
    display: 'Apply ControlNet (OLD)',
    category: 'conditioning/controlnet',
    description: 'Guides sampling with a ControlNet and a control image at a strength; maskflow applies it to the whole CFG batch, as diffusers does.',
    required: { conditioning: link('CONDITIONING'), control_net: link('CONTROL_NET'), image: link('IMAGE'), strength: float(1, 0, 10, 0.01) },
    outputs: [['CONDITIONING', 'CONDITIONING']],
    async translate(t) {
      return [await t.link('conditioning'), await applyControlNet(t, 'conditioning', { strength: t.value('strength'), start: 0, end: 1 })];
    },
  },
  ControlNetApplyAdvanced: {
    display: 'Apply ControlNet',
    category: 'conditioning/controlnet',
    description: "ControlNet with a guidance window: start/end_percent become diffusers' control_guidance_start/end (fractions of the steps that run).",
    required: {
      positive: link('CONDITIONING'),
      negative: link('CONDITIONING'),
      control_net: link('CONTROL_NET'),
      image: link('IMAGE'),
      strength: float(1, 0, 10, 0.01),
      start_percent: float(0, 0, 1, 0.001),
      end_percent: float(1, 0, 1, 0.001),
    },
    optional: { vae: link('VAE') },
    outputs: [
      ['CONDITIONING', 'positive'],
      ['CONDITIONING', 'negative'],
    ],
    async translate(t) {
      const control = await applyControlNet(t, 'positive', { strength: t.value('strength'), start: t.value('start_percent'), end: t.value('end_percent') });
      return [await t.link('positive'), await t.link('negative'), control];
    },
  },
  CheckpointLoaderSimple: {
    display: 'Load Checkpoint',
    category: 'loaders',
    description: 'Loads an installed model (a checkpoint file in models/checkpoints or a model folder) as MODEL, CLIP and VAE.',
    required: { ckpt_name: combo((env) => env.checkpoints(), { tooltip: 'The name of the checkpoint (model) to load.' }) },
    outputs: [
      ['MODEL', 'MODEL'],
      ['CLIP', 'CLIP'],
      ['VAE', 'VAE'],
    ],
    async translate(t) {
      const id = t.add('models/load-model', { model: t.value('ckpt_name') });
      return [
        [id, 'unet'],
        [id, 'clip'],
        [id, 'vae'],
      ];
    },
  },
  CLIPTextEncode: {
    display: 'CLIP Text Encode (Prompt)',
    category: 'conditioning',
    description: 'Encodes a text prompt with both SDXL text encoders.',
    required: { text: text(), clip: link('CLIP') },
    outputs: [['CONDITIONING', 'CONDITIONING']],
    translate: (t) => encodeText(t, { prompt: t.value('text') }),
  },
  CLIPTextEncodeSDXL: {
    display: 'CLIPTextEncodeSDXL',
    category: 'advanced/conditioning',
    description: 'SDXL prompt with separate text for each encoder (text_l: CLIP-L, text_g: OpenCLIP-G) and size conditioning.',
    required: {
      clip: link('CLIP'),
      width: int(1024, 0, MAX_RESOLUTION),
      height: int(1024, 0, MAX_RESOLUTION),
      crop_w: int(0, 0, MAX_RESOLUTION),
      crop_h: int(0, 0, MAX_RESOLUTION),
      target_width: int(1024, 0, MAX_RESOLUTION),
      target_height: int(1024, 0, MAX_RESOLUTION),
      text_g: text(),
      text_l: text(),
    },
    outputs: [['CONDITIONING', 'CONDITIONING']],
    translate: (t) =>
      encodeText(t, {
        prompt: t.value('text_l'),
        prompt_2: t.value('text_g'),
        original_width: t.value('width'),
        original_height: t.value('height'),
        crop_left: t.value('crop_w'),
        crop_top: t.value('crop_h'),
        target_width: t.value('target_width'),
        target_height: t.value('target_height'),
      }),
  },
  CLIPSetLastLayer: {
    display: 'CLIP Set Last Layer',
    category: 'conditioning',
    description: 'Which CLIP hidden layer the prompt is read from (-2 = penultimate, what SDXL was trained with). Applied by the text encoders downstream.',
    required: { clip: link('CLIP'), stop_at_clip_layer: int(-2, -24, -2) },
    outputs: [['CLIP', 'CLIP']],
    async translate(t) {
      return [await t.link('clip')];
    },
  },
  LoraLoader: {
    display: 'Load LoRA',
    category: 'loaders',
    description: 'Applies a LoRA from models/loras to the MODEL and the CLIP.',
    required: {
      model: link('MODEL'),
      clip: link('CLIP'),
      lora_name: combo((env) => env.loras()),
      strength_model: float(1, -10, 10),
      strength_clip: float(1, -10, 10),
    },
    outputs: [
      ['MODEL', 'MODEL'],
      ['CLIP', 'CLIP'],
    ],
    async translate(t) {
      const id = t.add(
        'models/apply-lora',
        { lora: t.value('lora_name'), strength_model: t.value('strength_model'), strength_clip: t.value('strength_clip') },
        { unet: await t.link('model'), clip: await t.link('clip') },
      );
      return [
        [id, 'unet'],
        [id, 'clip'],
      ];
    },
  },
  LoraLoaderModelOnly: {
    display: 'LoraLoaderModelOnly',
    category: 'loaders',
    description: 'Applies a LoRA from models/loras to the MODEL only.',
    required: { model: link('MODEL'), lora_name: combo((env) => env.loras()), strength_model: float(1, -10, 10) },
    outputs: [['MODEL', 'MODEL']],
    async translate(t) {
      const id = t.add(
        'models/apply-lora',
        { lora: t.value('lora_name'), strength_model: t.value('strength_model'), strength_clip: 0 },
        { unet: await t.link('model'), clip: await checkpointClip(t) },
      );
      return [[id, 'unet']];
    },
  },
};
