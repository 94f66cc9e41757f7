// A ComfyUI inpainting prompt built from its own class names, and a fake environment for translation tests.
import type { ComfyEnv, ComfyPrompt } from '../../server/comfy/spec.js';

export function fakeEnv(over: Partial<ComfyEnv> = {}): ComfyEnv {
  return {
    checkpoints: () => ['tiny-sdxl-base', 'tiny-sdxl-inpaint'],
    loras: () => ['detail.safetensors'],
    controlnets: () => ['tiny-controlnet', 'canny.safetensors'],
    inputImages: () => ['photo.png', 'sub/mask.png'],
    importInput: async (name) => `upload:file-${name.replace(/[^a-z]/g, '')}-000000000000`,
    ...over,
  };
}

/** The inpainting graph ComfyUI users build: LoadImage's alpha is the mask. */
export function inpaintPrompt(opts: { ckpt?: string; image?: string; steps?: number; sampler?: string; scheduler?: string; seed?: number; denoise?: number } = {}): ComfyPrompt {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: opts.ckpt ?? 'tiny-sdxl-inpaint' } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a red apple', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['4', 1] } },
    '10': { class_type: 'LoadImage', inputs: { image: opts.image ?? 'photo.png' } },
    '11': { class_type: 'VAEEncodeForInpaint', inputs: { pixels: ['10', 0], vae: ['4', 2], mask: ['10', 1], grow_mask_by: 6 } },
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed: opts.seed ?? 42,
        steps: opts.steps ?? 3,
        cfg: 7,
        sampler_name: opts.sampler ?? 'euler',
        scheduler: opts.scheduler ?? 'normal',
        denoise: opts.denoise ?? 1,
        model: ['4', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['11', 0],
      },
    },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'inpaint', images: ['8', 0] } },
  };
}
