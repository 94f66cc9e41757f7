// ComfyUI classes that work on images, masks and latents, sample and save (inputs as in
// ComfyUI's nodes.py / nodes_mask.py).
import type { ComfyClassDef } from './spec.js';
import { MAX_RESOLUTION, MAX_SEED, link, int, float, combo, text, bool, denoise, UPSCALE_KERNELS, samplerInputs, linkOfNode } from './class-helpers.js';

export const IMAGE_CLASSES: Record<string, ComfyClassDef> = {
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
