// ComfyUI's core classes (inputs as in its nodes.py / nodes_mask.py / nodes_clip_sdxl.py),
// each translated onto one maskflow node or a small subgraph. Ranges are ComfyUI's except
// where maskflow accepts less; then the narrower range is declared, so /object_info and
// validation agree with what runs.
import type { Link } from '../engine/workflow.js';
import { mapSampler, SAMPLER_NAMES, SCHEDULER_NAMES, supportedPairs } from './samplers.js';
import { isLinkValue, type ComfyClassDef, type ComfyEnv, type ComfyNode, type InputDef, type NodeTranslator } from './spec.js';

const MAX_RESOLUTION = 8192; // maskflow's image side limit (ComfyUI: 16384)
const MAX_SEED = Number.MAX_SAFE_INTEGER;

const link = (type: string, tooltip?: string): InputDef => ({ type, ...(tooltip ? { config: { tooltip } } : {}) });
const int = (dflt: number, min: number, max: number, step = 1, extra: Record<string, unknown> = {}): InputDef => ({
  type: 'INT',
  config: { default: dflt, min, max, step, ...extra },
});
const float = (dflt: number, min: number, max: number, step = 0.01, extra: Record<string, unknown> = {}): InputDef => ({
  type: 'FLOAT',
  config: { default: dflt, min, max, step, ...extra },
});
const combo = (options: readonly string[] | ((env: ComfyEnv) => readonly string[]), extra: Record<string, unknown> = {}): InputDef => ({
  type: 'COMBO',
  options: typeof options === 'function' ? options : () => options,
  config: extra,
});
const text = (dflt = '', multiline = true): InputDef => ({ type: 'STRING', config: { default: dflt, multiline, dynamicPrompts: multiline } });
const bool = (dflt: boolean): InputDef => ({ type: 'BOOLEAN', config: { default: dflt } });

/** ComfyUI's CLIPSetLastLayer -n = hidden_states[-n]; maskflow (diffusers) clip_skip k = hidden_states[-(k + 2)]. */
function clipSkipOf(t: NodeTranslator, input = 'clip'): number {
  let src = t.sourceOf(input);
  while (src && src.node.class_type === 'LoraLoader') src = sourceOfNode(t, src.node, 'clip');
  if (src?.node.class_type !== 'CLIPSetLastLayer') return 0;
  return -Number(src.node.inputs?.stop_at_clip_layer ?? -2) - 2;
}

/** The comfy node feeding input `input` of another node of the prompt. */
function sourceOfNode(t: NodeTranslator, node: ComfyNode, input: string): { id: string; node: ComfyNode; slot: number } | undefined {
  const v = node.inputs?.[input];
  if (!isLinkValue(v)) return undefined;
  const src = t.node(String(v[0]));
  return src && { id: String(v[0]), node: src, slot: v[1] };
}

/** The CLIP of the checkpoint a MODEL chain starts from (LoraLoaderModelOnly needs one for apply-lora). */
async function checkpointClip(t: NodeTranslator): Promise<Link> {
  let src = t.sourceOf('model');
  while (src && (src.node.class_type === 'LoraLoader' || src.node.class_type === 'LoraLoaderModelOnly')) src = sourceOfNode(t, src.node, 'model');
  if (!src || src.node.class_type !== 'CheckpointLoaderSimple') {
    t.fail('custom_validation_failed', 'Custom validation failed for node', 'model - maskflow applies a LoRA to a MODEL that comes from CheckpointLoaderSimple (directly or through other LoRA loaders)', {
      input_name: 'model',
    });
  }
  return (await t.outputsOf(src.id))[1]!;
}

async function encodeText(t: NodeTranslator, params: Record<string, unknown>): Promise<Link[]> {
  const skip = clipSkipOf(t);
  const id = t.add('conditioning/encode-text', { ...params, clip_skip: skip, zero_empty_negative: true }, { clip: await t.link('clip') });
  return [[id, 'positive']];
}

function samplerScheduler(t: NodeTranslator): string {
  const sampler = t.value<string>('sampler_name');
  const scheduler = t.value<string>('scheduler');
  const mapped = mapSampler(sampler, scheduler);
  if (!mapped) {
    t.fail('value_not_supported', 'Sampler and scheduler not supported by maskflow', `sampler_name/scheduler: '${sampler}/${scheduler}' not in [${supportedPairs().join(', ')}]`, {
      input_name: 'sampler_name',
      received_value: `${sampler}/${scheduler}`,
      supported: supportedPairs(),
    });
  }
  return mapped;
}

/** Images asked for by an EmptyLatentImage batch (maskflow's sampler draws the batch). */
function batchOf(t: NodeTranslator): number {
  const src = t.sourceOf('latent_image');
  return src?.node.class_type === 'EmptyLatentImage' ? Number(src.node.inputs?.batch_size ?? 1) : 1;
}

/**
 * ComfyUI attaches ControlNets to CONDITIONING; maskflow hands them to the sampler. The
 * ControlNet apply classes return their CONTROL chain as an extra (undeclared) output slot.
 */
const CONTROL_SLOT: Record<string, number> = { ControlNetApply: 1, ControlNetApplyAdvanced: 2 };

async function controlOf(t: NodeTranslator, input: string): Promise<Link | undefined> {
  const src = t.sourceOf(input);
  const slot = src && CONTROL_SLOT[src.node.class_type];
  return slot === undefined ? undefined : (await t.outputsOf(src!.id))[slot];
}

/** Adds an apply-controlnet node, chained after ControlNets applied upstream of `conditioning`. */
async function applyControlNet(t: NodeTranslator, conditioning: string, p: { strength: number; start: number; end: number }): Promise<Link> {
  if (p.start >= p.end)
    t.fail('value_not_supported', 'start_percent must be below end_percent', `start_percent ${p.start} >= end_percent ${p.end}`, { input_name: 'start_percent' });
  const upstream = await controlOf(t, conditioning);
  const id = t.add('conditioning/apply-controlnet', p, { controlnet: await t.link('control_net'), image: await t.link('image'), ...(upstream ? { control: upstream } : {}) });
  return [id, 'control'];
}

async function denoise(t: NodeTranslator, p: { seed: number; steps: number; cfg: number; strength: number }): Promise<Link[]> {
  const control = (await controlOf(t, 'positive')) ?? (await controlOf(t, 'negative'));
  const id = t.add(
    'sampling/denoise',
    { seed: p.seed, steps: p.steps, guidance: p.cfg, strength: p.strength, scheduler: samplerScheduler(t), num_images: batchOf(t) },
    {
      unet: await t.link('model'),
      positive: await t.link('positive'),
      negative: await t.link('negative'),
      latent: await t.link('latent_image'),
      ...(control ? { control } : {}),
    },
  );
  return [[id, 'latent']];
}

const UPSCALE_KERNELS: Record<string, string> = { 'nearest-exact': 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos: 'lanczos3' };

const samplerInputs = {
  sampler_name: combo(SAMPLER_NAMES, { tooltip: 'Samplers maskflow implements (see docs/comfyui.md for the mapping).' }),
  scheduler: combo(SCHEDULER_NAMES, { tooltip: 'normal = the model\'s timestep spacing; karras only with dpmpp_2m; ddim_uniform only with ddim.' }),
};

export const COMFY_CLASSES: Record<string, ComfyClassDef> = {
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
  LoadImage: {
    display: 'Load Image',
    category: 'image',
    description: 'An image from the input folder (POST /upload/image); MASK = 1 − alpha (transparent = repaint), zeros without alpha.',
    required: { image: combo((env) => env.inputImages(), { image_upload: true }) },
    outputs: [
      ['IMAGE', 'IMAGE'],
      ['MASK', 'MASK'],
    ],
    async translate(t) {
      const id = t.add('image/load-image', { url: await t.env.importInput(t.value('image')), alpha_as_mask: true });
      return [
        [id, 'image'],
        [id, 'alpha_mask'],
      ];
    },
  },
  LoadImageMask: {
    display: 'Load Image (as Mask)',
    category: 'mask',
    description: 'One channel of an input-folder image as a MASK (alpha: 1 − alpha, as ComfyUI).',
    required: { image: combo((env) => env.inputImages(), { image_upload: true }), channel: combo(['alpha', 'red', 'green', 'blue']) },
    outputs: [['MASK', 'MASK']],
    async translate(t) {
      const url = await t.env.importInput(t.value('image'));
      const channel = t.value<string>('channel');
      const load = t.add('image/load-image', { url, alpha_as_mask: channel === 'alpha' });
      if (channel === 'alpha') return [[load, 'alpha_mask']];
      const id = t.add('mask/from-image', { channel }, { image: [load, 'image'] }, 'channel');
      return [[id, 'mask']];
    },
  },
  VAEEncode: {
    display: 'VAE Encode',
    category: 'latent',
    description: 'Encodes the image into a LATENT (img2img).',
    required: { pixels: link('IMAGE'), vae: link('VAE') },
    outputs: [['LATENT', 'LATENT']],
    async translate(t) {
      const id = t.add('latent/vae-encode', {}, { vae: await t.link('vae'), image: await t.link('pixels') });
      return [[id, 'latent']];
    },
  },
  VAEEncodeForInpaint: {
    display: 'VAE Encode (for Inpainting)',
    category: 'latent/inpaint',
    description: 'Encodes the image with the mask grown by grow_mask_by px; the sampler repaints the masked area (9-channel inpainting models use the masked image).',
    required: { pixels: link('IMAGE'), vae: link('VAE'), mask: link('MASK'), grow_mask_by: int(6, 0, 64) },
    outputs: [['LATENT', 'LATENT']],
    async translate(t) {
      let mask = await t.link('mask');
      const grow = t.value<number>('grow_mask_by');
      if (grow > 0) mask = [t.add('mask/grow', { grow }, { mask }, 'grow'), 'mask'];
      const id = t.add('latent/vae-encode', {}, { vae: await t.link('vae'), image: await t.link('pixels'), mask });
      return [[id, 'latent']];
    },
  },
  InpaintModelConditioning: {
    display: 'InpaintModelConditioning',
    category: 'conditioning/inpaint',
    description: 'Inpainting latent (image, mask and masked image) for the sampler; the conditioning passes through.',
    required: { positive: link('CONDITIONING'), negative: link('CONDITIONING'), vae: link('VAE'), pixels: link('IMAGE'), mask: link('MASK') },
    optional: { noise_mask: { ...bool(true), config: { default: true, tooltip: 'maskflow always keeps the unmasked area (true only).' } } },
    outputs: [
      ['CONDITIONING', 'positive'],
      ['CONDITIONING', 'negative'],
      ['LATENT', 'latent'],
    ],
    async translate(t) {
      if (t.value<boolean | undefined>('noise_mask') === false) {
        t.fail('value_not_supported', 'Value not supported by maskflow', "noise_mask: maskflow's sampler always keeps the unmasked area; only true is supported", {
          input_name: 'noise_mask',
          received_value: false,
        });
      }
      const id = t.add('latent/vae-encode', {}, { vae: await t.link('vae'), image: await t.link('pixels'), mask: await t.link('mask') });
      return [await t.link('positive'), await t.link('negative'), [id, 'latent']];
    },
  },
  SetLatentNoiseMask: {
    display: 'Set Latent Noise Mask',
    category: 'latent/inpaint',
    description: 'Restricts sampling to the mask. In maskflow the samples must come from VAEEncode (the latent is re-encoded with the mask).',
    required: { samples: link('LATENT'), mask: link('MASK') },
    outputs: [['LATENT', 'LATENT']],
    async translate(t) {
      const src = t.sourceOf('samples');
      if (!src || src.node.class_type !== 'VAEEncode') {
        return t.fail('custom_validation_failed', 'Custom validation failed for node', 'samples - maskflow sets a noise mask on samples that come straight from VAEEncode', {
          input_name: 'samples',
        });
      }
      const pixels = await linkOfNode(t, src.node, 'pixels');
      const vae = await linkOfNode(t, src.node, 'vae');
      const id = t.add('latent/vae-encode', {}, { vae, image: pixels, mask: await t.link('mask') });
      return [[id, 'latent']];
    },
  },
  EmptyLatentImage: {
    display: 'Empty Latent Image',
    category: 'latent',
    description: 'A blank latent (text to image); batch_size images are sampled.',
    required: { width: int(1024, 32, MAX_RESOLUTION, 8), height: int(1024, 32, MAX_RESOLUTION, 8), batch_size: int(1, 1, 16) },
    outputs: [['LATENT', 'LATENT']],
    async translate(t) {
      const id = t.add('latent/empty-latent', { width: t.value('width'), height: t.value('height') });
      return [[id, 'latent']];
    },
  },
  KSampler: {
    display: 'KSampler',
    category: 'sampling',
    description: 'Denoises the latent. denoise is the img2img/inpainting strength.',
    required: {
      model: link('MODEL'),
      seed: int(0, 0, MAX_SEED, 1, { control_after_generate: true }),
      steps: int(20, 1, 500),
      cfg: float(8, 0, 50, 0.1, { round: 0.01 }),
      ...samplerInputs,
      positive: link('CONDITIONING'),
      negative: link('CONDITIONING'),
      latent_image: link('LATENT'),
      denoise: float(1, 0.01, 1),
    },
    outputs: [['LATENT', 'LATENT']],
    translate: (t) => denoise(t, { seed: t.value('seed'), steps: t.value('steps'), cfg: t.value('cfg'), strength: t.value('denoise') }),
  },
  KSamplerAdvanced: {
    display: 'KSampler (Advanced)',
    category: 'sampling',
    description: 'KSampler with start/end steps. maskflow runs add_noise=enable, end_at_step >= steps and no leftover noise; start_at_step s means strength (steps − s) / steps.',
    required: {
      model: link('MODEL'),
      add_noise: combo(['enable', 'disable']),
      noise_seed: int(0, 0, MAX_SEED, 1, { control_after_generate: true }),
      steps: int(20, 1, 500),
      cfg: float(8, 0, 50, 0.1, { round: 0.01 }),
      ...samplerInputs,
      positive: link('CONDITIONING'),
      negative: link('CONDITIONING'),
      latent_image: link('LATENT'),
      start_at_step: int(0, 0, 10000),
      end_at_step: int(10000, 0, 10000),
      return_with_leftover_noise: combo(['disable', 'enable']),
    },
    outputs: [['LATENT', 'LATENT']],
    translate(t) {
      const steps = t.value<number>('steps');
      const start = t.value<number>('start_at_step');
      const refuse = (input: string, why: string) =>
        t.fail('value_not_supported', 'Value not supported by maskflow', `${input}: ${why}`, { input_name: input, received_value: t.value(input) });
      if (t.value('add_noise') !== 'enable') refuse('add_noise', "maskflow's sampler always adds noise; only 'enable' is supported");
      if (t.value('return_with_leftover_noise') !== 'disable') refuse('return_with_leftover_noise', "maskflow always finishes denoising; only 'disable' is supported");
      if (t.value<number>('end_at_step') < steps) refuse('end_at_step', `maskflow runs to the last step; end_at_step must be >= steps (${steps})`);
      if (start >= steps) refuse('start_at_step', `start_at_step must be < steps (${steps})`);
      return denoise(t, { seed: t.value('noise_seed'), steps, cfg: t.value('cfg'), strength: (steps - start) / steps });
    },
  },
  VAEDecode: {
    display: 'VAE Decode',
    category: 'latent',
    description: 'Decodes the latent into images.',
    required: { samples: link('LATENT'), vae: link('VAE') },
    outputs: [['IMAGE', 'IMAGE']],
    async translate(t) {
      const id = t.add('latent/vae-decode', {}, { vae: await t.link('vae'), latent: await t.link('samples') });
      return [[id, 'image']];
    },
  },
  SaveImage: {
    display: 'Save Image',
    category: 'image',
    description: 'Saves the images as PNG outputs (GET /view?type=output).',
    required: { images: link('IMAGE'), filename_prefix: { type: 'STRING', config: { default: 'ComfyUI' } } },
    outputs: [],
    outputNode: true,
    async translate(t) {
      // ComfyUI's PNG metadata (prompt, workflow) instead of maskflow's workflow chunk, so the image opens in ComfyUI.
      const info = t.env.pngInfo?.();
      const params = info ? { format: 'png', embed_workflow: false, text_chunks: info } : { format: 'png' };
      const id = t.add('image/save-image', params, { image: await t.link('images') });
      t.markOutput(id, 'output', t.value('filename_prefix'));
      return [];
    },
  },
  PreviewImage: {
    display: 'Preview Image',
    category: 'image',
    description: 'Stores the images as temporary PNGs (GET /view?type=temp).',
    required: { images: link('IMAGE') },
    outputs: [],
    outputNode: true,
    async translate(t) {
      const id = t.add('image/save-image', { format: 'png' }, { image: await t.link('images') });
      t.markOutput(id, 'temp', 'ComfyUI_temp');
      return [];
    },
  },
  ImageScale: {
    display: 'Upscale Image',
    category: 'image/upscaling',
    description: 'Resizes to width x height (0 keeps the aspect ratio from the other side); crop=center fills and crops.',
    required: {
      image: link('IMAGE'),
      upscale_method: combo(Object.keys(UPSCALE_KERNELS)),
      width: int(512, 0, MAX_RESOLUTION),
      height: int(512, 0, MAX_RESOLUTION),
      crop: combo(['disabled', 'center']),
    },
    outputs: [['IMAGE', 'IMAGE']],
    async translate(t) {
      const image = await t.link('image');
      const w = t.value<number>('width');
      const h = t.value<number>('height');
      if (w === 0 && h === 0) return [image];
      // One side 0: fit into a box unbounded on that side keeps the aspect ratio.
      const mode = w === 0 || h === 0 ? 'fit' : t.value('crop') === 'center' ? 'fill' : 'exact';
      const id = t.add(
        'image/resize',
        { width: w || 16384, height: h || 16384, mode, kernel: UPSCALE_KERNELS[t.value<string>('upscale_method')] },
        { image },
      );
      return [[id, 'image']];
    },
  },
  ImageCompositeMasked: {
    display: 'ImageCompositeMasked',
    category: 'image',
    description: 'Pastes source into destination at (x, y) through the optional mask.',
    required: {
      destination: link('IMAGE'),
      source: link('IMAGE'),
      x: int(0, 0, MAX_RESOLUTION, 8),
      y: int(0, 0, MAX_RESOLUTION, 8),
      resize_source: bool(false),
    },
    optional: { mask: link('MASK') },
    outputs: [['IMAGE', 'IMAGE']],
    async translate(t) {
      const mask = await t.optionalLink('mask');
      const id = t.add(
        'image/paste',
        { x: t.value('x'), y: t.value('y'), resize_source: t.value('resize_source') },
        { destination: await t.link('destination'), source: await t.link('source'), ...(mask ? { mask } : {}) },
      );
      return [[id, 'image']];
    },
  },
  ImagePadForOutpaint: {
    display: 'Pad Image for Outpainting',
    category: 'image',
    description: 'Adds a border to paint and the matching MASK (outpainting).',
    required: {
      image: link('IMAGE'),
      left: int(0, 0, MAX_RESOLUTION, 8),
      top: int(0, 0, MAX_RESOLUTION, 8),
      right: int(0, 0, MAX_RESOLUTION, 8),
      bottom: int(0, 0, MAX_RESOLUTION, 8),
      feathering: int(40, 0, MAX_RESOLUTION),
    },
    outputs: [
      ['IMAGE', 'IMAGE'],
      ['MASK', 'MASK'],
    ],
    async translate(t) {
      const id = t.add(
        'image/pad-for-outpaint',
        { left: t.value('left'), top: t.value('top'), right: t.value('right'), bottom: t.value('bottom'), feathering: t.value('feathering') },
        { image: await t.link('image') },
      );
      return [
        [id, 'image'],
        [id, 'mask'],
      ];
    },
  },
  GrowMask: {
    display: 'GrowMask',
    category: 'mask',
    description: 'Grows (or shrinks, negative) the mask by expand px (maskflow grows by a disc whatever tapered_corners says).',
    required: { mask: link('MASK'), expand: int(0, -4096, 4096), tapered_corners: bool(true) },
    outputs: [['MASK', 'MASK']],
    async translate(t) {
      const id = t.add('mask/grow', { grow: t.value('expand') }, { mask: await t.link('mask') });
      return [[id, 'mask']];
    },
  },
  FeatherMask: {
    display: 'FeatherMask',
    category: 'mask',
    description: 'Fades the mask linearly towards the image borders.',
    required: { mask: link('MASK'), left: int(0, 0, MAX_RESOLUTION), top: int(0, 0, MAX_RESOLUTION), right: int(0, 0, MAX_RESOLUTION), bottom: int(0, 0, MAX_RESOLUTION) },
    outputs: [['MASK', 'MASK']],
    async translate(t) {
      const id = t.add(
        'mask/feather-edges',
        { left: t.value('left'), top: t.value('top'), right: t.value('right'), bottom: t.value('bottom') },
        { mask: await t.link('mask') },
      );
      return [[id, 'mask']];
    },
  },
  InvertMask: {
    display: 'InvertMask',
    category: 'mask',
    description: '1 − mask.',
    required: { mask: link('MASK') },
    outputs: [['MASK', 'MASK']],
    async translate(t) {
      return [[t.add('mask/invert', {}, { mask: await t.link('mask') }), 'mask']];
    },
  },
  ImageToMask: {
    display: 'Convert Image to Mask',
    category: 'mask',
    description: 'One colour channel as a mask (maskflow images have no alpha: red, green or blue).',
    required: { image: link('IMAGE'), channel: combo(['red', 'green', 'blue']) },
    outputs: [['MASK', 'MASK']],
    async translate(t) {
      return [[t.add('mask/from-image', { channel: t.value('channel') }, { image: await t.link('image') }), 'mask']];
    },
  },
  MaskToImage: {
    display: 'Convert Mask to Image',
    category: 'mask',
    description: 'The mask as a grey image.',
    required: { mask: link('MASK') },
    outputs: [['IMAGE', 'IMAGE']],
    async translate(t) {
      return [[t.add('mask/to-image', {}, { mask: await t.link('mask') }), 'image']];
    },
  },
};

/** The maskflow link behind input `name` of another comfy node (for graph rewrites like SetLatentNoiseMask). */
async function linkOfNode(t: NodeTranslator, node: ComfyNode, name: string): Promise<Link> {
  const v = node.inputs?.[name];
  if (!isLinkValue(v)) t.fail('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', name, { input_name: name });
  const outs = await t.outputsOf(String(v[0]));
  const out = outs[Number(v[1])];
  if (!out) t.fail('bad_linked_input', 'Bad linked input', `${name}: slot ${String(v[1])} does not exist`, { input_name: name });
  return out;
}
