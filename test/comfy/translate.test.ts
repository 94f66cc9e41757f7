import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodes, NODES_DIR } from '../../server/engine/loader.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import { COMFY_CLASSES } from '../../server/comfy/classes.js';
import { objectInfo, objectInfoOf } from '../../server/comfy/object-info.js';
import { ComfyValidationError, type ComfyPrompt } from '../../server/comfy/spec.js';
import { translatePrompt } from '../../server/comfy/translate.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { fakeEnv, inpaintPrompt } from './helpers.js';

let registry: NodeRegistry;
beforeAll(async () => {
  registry = await loadNodes([NODES_DIR]);
});

async function refused(prompt: unknown) {
  try {
    await translatePrompt(prompt, registry, fakeEnv());
  } catch (err) {
    expect(err).toBeInstanceOf(ComfyValidationError);
    return (err as ComfyValidationError).body;
  }
  throw new Error('prompt was accepted');
}

describe('translatePrompt', () => {
  it('turns the ComfyUI inpainting graph into a valid maskflow workflow', async () => {
    const t = await translatePrompt(inpaintPrompt({ denoise: 0.8, sampler: 'dpmpp_2m', scheduler: 'karras' }), registry, fakeEnv());
    expect(validateWorkflow(t.workflow, registry).problems).toEqual([]);
    const byComfy = (id: string) => Object.entries(t.nodeMap).filter(([, c]) => c === id).map(([mf]) => t.workflow.nodes[mf]!);
    expect(byComfy('4')[0]).toMatchObject({ type: 'models/load-model', params: { model: 'tiny-sdxl-inpaint' } });
    expect(byComfy('10')[0]).toMatchObject({ type: 'image/load-image', params: { url: 'upload:file-photopng-000000000000', alpha_as_mask: true } });
    expect(byComfy('11').map((n) => n.type)).toEqual(['mask/grow', 'latent/vae-encode']);
    expect(byComfy('11')[0]!.params).toEqual({ grow: 6 });
    expect(byComfy('3')[0]).toMatchObject({
      type: 'sampling/denoise',
      params: { seed: 42, steps: 3, guidance: 7, strength: 0.8, scheduler: 'dpmpp_2m_karras', num_images: 1 },
      inputs: { unet: ['4', 'unet'], positive: ['6', 'positive'], negative: ['7', 'positive'], latent: ['11.vae-encode', 'latent'] },
    });
    expect(t.outputs).toEqual({ '9': { node: '9', kind: 'output', prefix: 'inpaint' } });
    expect(t.outputsToExecute).toEqual(['9']);
  });

  it('refuses unknown classes, missing class_type and prompts without outputs in ComfyUI\'s shape', async () => {
    expect(await refused({ '1': { class_type: 'UpscaleModelLoader', inputs: {} } })).toEqual({
      error: { type: 'invalid_prompt', message: 'Cannot execute because node UpscaleModelLoader does not exist.', details: "Node ID '#1'", extra_info: {} },
      node_errors: {},
    });
    expect((await refused({ '1': { inputs: {} } })).error.message).toBe('Cannot execute because a node is missing the class_type property.');
    expect((await refused({ '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } } })).error).toEqual({
      type: 'prompt_no_outputs',
      message: 'Prompt has no outputs',
      details: '',
      extra_info: {},
    });
    expect((await refused([1, 2])).error.type).toBe('invalid_prompt');
  });

  it('reports every bad input as node_errors with class_type and dependent_outputs', async () => {
    const p = inpaintPrompt({ ckpt: 'nope.safetensors', steps: 0 });
    delete p['6']!.inputs!.text;
    p['8']!.inputs!.vae = ['6', 0]; // CONDITIONING into VAE
    const body = await refused(p);
    expect(body.error.type).toBe('prompt_outputs_failed_validation');
    expect(body.error.message).toBe('Prompt outputs failed validation');
    expect(body.node_errors['4']).toEqual({
      class_type: 'CheckpointLoaderSimple',
      dependent_outputs: ['9'],
      errors: [
        {
          type: 'value_not_in_list',
          message: 'Value not in list',
          details: "ckpt_name: 'nope.safetensors' not in ['tiny-sdxl-base', 'tiny-sdxl-inpaint']",
          extra_info: expect.objectContaining({ input_name: 'ckpt_name', received_value: 'nope.safetensors' }),
        },
      ],
    });
    expect(body.node_errors['6']!.errors[0]).toMatchObject({ type: 'required_input_missing', details: 'text' });
    expect(body.node_errors['8']!.errors[0]).toMatchObject({ type: 'return_type_mismatch', details: 'vae, received_type(CONDITIONING) mismatch input_type(VAE)' });
    expect(body.error.details).toContain('Value not in list');
  });

  it('checks ranges and converts widget values like ComfyUI', async () => {
    const p = inpaintPrompt();
    p['3']!.inputs!.steps = '4';
    p['3']!.inputs!.cfg = '6.5';
    const t = await translatePrompt(p, registry, fakeEnv());
    expect(t.workflow.nodes['3']!.params).toMatchObject({ steps: 4, guidance: 6.5 });
    const bad = inpaintPrompt();
    bad['3']!.inputs!.steps = 'many';
    bad['3']!.inputs!.denoise = 2;
    const body = await refused(bad);
    expect(body.node_errors['3']!.errors.map((e) => e.type)).toEqual(['invalid_input_type', 'value_bigger_than_max']);
    expect(body.node_errors['3']!.errors[1]!.message).toBe('Value 2 bigger than max of 1');
  });

  it('refuses a sampler/scheduler pair maskflow cannot run, listing the supported pairs', async () => {
    const body = await refused(inpaintPrompt({ sampler: 'dpmpp_2m_sde', scheduler: 'karras' }));
    // Not in the sampler list: ComfyUI's list check names what is accepted.
    expect(body.node_errors['3']!.errors[0]).toMatchObject({ type: 'value_not_in_list', details: expect.stringContaining("sampler_name: 'dpmpp_2m_sde' not in ['euler'") });
    const pair = await refused(inpaintPrompt({ sampler: 'euler', scheduler: 'karras' }));
    expect(pair.node_errors['3']!.errors[0]).toMatchObject({
      type: 'value_not_supported',
      details: expect.stringContaining("'euler/karras' not in [euler/normal, euler_ancestral/normal, dpmpp_2m/normal, dpmpp_2m/karras, ddim/normal, ddim/ddim_uniform]"),
    });
  });

  it('KSamplerAdvanced: start_at_step becomes strength; what maskflow cannot do is refused', async () => {
    const p = inpaintPrompt();
    p['3'] = {
      class_type: 'KSamplerAdvanced',
      inputs: {
        ...p['3']!.inputs,
        add_noise: 'enable',
        noise_seed: 7,
        start_at_step: 5,
        end_at_step: 10000,
        return_with_leftover_noise: 'disable',
        steps: 20,
      },
    };
    delete p['3'].inputs!.seed;
    delete p['3'].inputs!.denoise;
    const t = await translatePrompt(p, registry, fakeEnv());
    expect(t.workflow.nodes['3']!.params).toMatchObject({ seed: 7, steps: 20, strength: 0.75 });
    p['3'].inputs!.return_with_leftover_noise = 'enable';
    p['3'].inputs!.end_at_step = 10;
    const body = await refused(p);
    expect(body.node_errors['3']!.errors[0]!.details).toContain('return_with_leftover_noise');
  });

  it('translates every class of the issue into a graph maskflow validates', async () => {
    const prompt: ComfyPrompt = {
      ck: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny-sdxl-base' } },
      skip: { class_type: 'CLIPSetLastLayer', inputs: { clip: ['ck', 1], stop_at_clip_layer: -3 } },
      lora: { class_type: 'LoraLoader', inputs: { model: ['ck', 0], clip: ['skip', 0], lora_name: 'detail.safetensors', strength_model: 0.5, strength_clip: 0.25 } },
      lora2: { class_type: 'LoraLoaderModelOnly', inputs: { model: ['lora', 0], lora_name: 'detail.safetensors', strength_model: 0.7 } },
      pos: { class_type: 'CLIPTextEncodeSDXL', inputs: { clip: ['lora', 1], width: 1024, height: 1024, crop_w: 0, crop_h: 0, target_width: 1024, target_height: 1024, text_g: 'g', text_l: 'l' } },
      neg: { class_type: 'CLIPTextEncode', inputs: { clip: ['lora', 1], text: 'blurry' } },
      img: { class_type: 'LoadImage', inputs: { image: 'photo.png' } },
      mimg: { class_type: 'LoadImageMask', inputs: { image: 'sub/mask.png', channel: 'red' } },
      malpha: { class_type: 'LoadImageMask', inputs: { image: 'sub/mask.png', channel: 'alpha' } },
      scale: { class_type: 'ImageScale', inputs: { image: ['img', 0], upscale_method: 'bicubic', width: 64, height: 0, crop: 'disabled' } },
      pad: { class_type: 'ImagePadForOutpaint', inputs: { image: ['scale', 0], left: 8, top: 0, right: 8, bottom: 0, feathering: 4 } },
      grow: { class_type: 'GrowMask', inputs: { mask: ['pad', 1], expand: 2, tapered_corners: true } },
      feather: { class_type: 'FeatherMask', inputs: { mask: ['grow', 0], left: 2, top: 2, right: 2, bottom: 2 } },
      inv: { class_type: 'InvertMask', inputs: { mask: ['mimg', 0] } },
      toimg: { class_type: 'MaskToImage', inputs: { mask: ['inv', 0] } },
      tomask: { class_type: 'ImageToMask', inputs: { image: ['toimg', 0], channel: 'green' } },
      comp: { class_type: 'ImageCompositeMasked', inputs: { destination: ['pad', 0], source: ['toimg', 0], x: 0, y: 0, resize_source: true, mask: ['tomask', 0] } },
      enc: { class_type: 'VAEEncode', inputs: { pixels: ['comp', 0], vae: ['ck', 2] } },
      noise: { class_type: 'SetLatentNoiseMask', inputs: { samples: ['enc', 0], mask: ['feather', 0] } },
      imc: { class_type: 'InpaintModelConditioning', inputs: { positive: ['pos', 0], negative: ['neg', 0], vae: ['ck', 2], pixels: ['img', 0], mask: ['malpha', 0], noise_mask: true } },
      vfi: { class_type: 'VAEEncodeForInpaint', inputs: { pixels: ['img', 0], vae: ['ck', 2], mask: ['malpha', 0], grow_mask_by: 0 } },
      empty: { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 2 } },
      cnl: { class_type: 'ControlNetLoader', inputs: { control_net_name: 'tiny-controlnet' } },
      cna: { class_type: 'ControlNetApply', inputs: { conditioning: ['pos', 0], control_net: ['cnl', 0], image: ['img', 0], strength: 0.5 } },
      cnadv: { class_type: 'ControlNetApplyAdvanced', inputs: { positive: ['cna', 0], negative: ['neg', 0], control_net: ['cnl', 0], image: ['img', 0], strength: 1, start_percent: 0, end_percent: 0.8 } },
      ks1: {
        class_type: 'KSampler',
        inputs: { model: ['lora2', 0], seed: 1, steps: 4, cfg: 5, sampler_name: 'ddim', scheduler: 'ddim_uniform', positive: ['imc', 0], negative: ['imc', 1], latent_image: ['noise', 0], denoise: 0.5 },
      },
      ks2: {
        class_type: 'KSampler',
        inputs: { model: ['ck', 0], seed: 1, steps: 4, cfg: 5, sampler_name: 'euler_ancestral', scheduler: 'normal', positive: ['cnadv', 0], negative: ['cnadv', 1], latent_image: ['empty', 0], denoise: 1 },
      },
      ks3: {
        class_type: 'KSampler',
        inputs: { model: ['ck', 0], seed: 1, steps: 4, cfg: 5, sampler_name: 'euler', scheduler: 'normal', positive: ['imc', 0], negative: ['imc', 1], latent_image: ['vfi', 0], denoise: 1 },
      },
      ks4: {
        class_type: 'KSamplerAdvanced',
        inputs: {
          model: ['ck', 0], add_noise: 'enable', noise_seed: 3, steps: 10, cfg: 5, sampler_name: 'dpmpp_2m', scheduler: 'normal',
          positive: ['pos', 0], negative: ['neg', 0], latent_image: ['enc', 0], start_at_step: 0, end_at_step: 10, return_with_leftover_noise: 'disable',
        },
      },
      dec4: { class_type: 'VAEDecode', inputs: { samples: ['ks4', 0], vae: ['ck', 2] } },
      prev4: { class_type: 'PreviewImage', inputs: { images: ['dec4', 0] } },
      dec1: { class_type: 'VAEDecode', inputs: { samples: ['ks1', 0], vae: ['ck', 2] } },
      dec2: { class_type: 'VAEDecode', inputs: { samples: ['ks2', 0], vae: ['ck', 2] } },
      dec3: { class_type: 'VAEDecode', inputs: { samples: ['ks3', 0], vae: ['ck', 2] } },
      save: { class_type: 'SaveImage', inputs: { images: ['dec1', 0], filename_prefix: 'a/b' } },
      prev: { class_type: 'PreviewImage', inputs: { images: ['dec2', 0] } },
      prev3: { class_type: 'PreviewImage', inputs: { images: ['dec3', 0] } },
    };
    const used = new Set(Object.values(prompt).map((n) => n.class_type));
    expect([...used].sort()).toEqual(Object.keys(COMFY_CLASSES).sort());
    const t = await translatePrompt(prompt, registry, fakeEnv());
    expect(validateWorkflow(t.workflow, registry).problems).toEqual([]);
    const n = t.workflow.nodes;
    expect(n['pos']).toMatchObject({ type: 'conditioning/encode-text', params: { prompt: 'l', prompt_2: 'g', clip_skip: 1 } });
    expect(n['lora2']).toMatchObject({ type: 'models/apply-lora', params: { strength_clip: 0 }, inputs: { unet: ['lora', 'unet'], clip: ['ck', 'clip'] } });
    expect(n['ks2']!.params).toMatchObject({ num_images: 2, scheduler: 'euler_ancestral' });
    expect(n['ks2']!.inputs).toMatchObject({ positive: ['pos', 'positive'], control: ['cnadv', 'control'] });
    expect(n['cnadv']).toMatchObject({ type: 'conditioning/apply-controlnet', params: { strength: 1, start: 0, end: 0.8 }, inputs: { control: ['cna', 'control'] } });
    expect(n['ks1']!.inputs).toMatchObject({ positive: ['pos', 'positive'], negative: ['neg', 'positive'], latent: ['noise', 'latent'] });
    expect(n['noise']).toMatchObject({ type: 'latent/vae-encode', inputs: { image: ['comp', 'image'], vae: ['ck', 'vae'], mask: ['feather', 'mask'] } });
    expect(n['scale']).toMatchObject({ type: 'image/resize', params: { width: 64, height: 16384, mode: 'fit', kernel: 'cubic' } });
    expect(n['mimg.channel']).toMatchObject({ type: 'mask/from-image', params: { channel: 'red' } });
    expect(t.outputs['prev']).toEqual({ node: 'prev', kind: 'temp', prefix: 'ComfyUI_temp' });
    expect(n['ks4']!.params).toMatchObject({ seed: 3, strength: 1, scheduler: 'dpmpp_2m' });
    expect(t.outputsToExecute.sort()).toEqual(['prev', 'prev3', 'prev4', 'save']);
  });

  it('refuses graph rewrites it cannot make and CLIP layers it cannot read', async () => {
    const p = inpaintPrompt();
    p['12'] = { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } };
    p['13'] = { class_type: 'SetLatentNoiseMask', inputs: { samples: ['12', 0], mask: ['10', 1] } };
    p['3']!.inputs!.latent_image = ['13', 0];
    expect((await refused(p)).node_errors['13']!.errors[0]!.details).toContain('VAEEncode');
    const q = inpaintPrompt();
    q['5'] = { class_type: 'CLIPSetLastLayer', inputs: { clip: ['4', 1], stop_at_clip_layer: -1 } };
    q['6']!.inputs!.clip = ['5', 0];
    expect((await refused(q)).node_errors['5']!.errors[0]).toMatchObject({ type: 'value_bigger_than_max', message: 'Value -1 bigger than max of -2' });
  });

  it('accepts maskflow node types as classes and maps maskflow validation problems back to the comfy node', async () => {
    const t = await translatePrompt(
      {
        a: { class_type: 'image/load-image', inputs: { url: 'upload:abcdefghijklmnopqrstuvwx' } },
        b: { class_type: 'image/save-image', inputs: { image: ['a', 0], format: 'jpeg' } },
      },
      registry,
      fakeEnv(),
    );
    expect(t.workflow.nodes['b']).toMatchObject({ type: 'image/save-image', params: { format: 'jpeg' } });
    const body = await refused({
      ck: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny-sdxl-base' } },
      emb: { class_type: 'models/load-embeddings', inputs: { clip: ['ck', 1], embeddings: [{ path: '' }] } },
      ex: { class_type: 'prompt/expand', inputs: { clip: ['emb', 0] } },
    });
    expect(body.error.type).toBe('prompt_outputs_failed_validation');
    expect(body.node_errors['emb']).toMatchObject({ class_type: 'models/load-embeddings', dependent_outputs: ['ex'] });
    expect(body.node_errors['emb']!.errors[0]).toMatchObject({ type: 'invalid_param', extra_info: { input_name: expect.stringMatching(/^embeddings/) } });
  });
});

describe('object_info', () => {
  it('describes the core classes in ComfyUI\'s node_info shape, with live choices', () => {
    const info = objectInfo(registry, fakeEnv());
    expect(info.KSampler).toMatchObject({
      name: 'KSampler',
      display_name: 'KSampler',
      category: 'sampling',
      output: ['LATENT'],
      output_name: ['LATENT'],
      output_is_list: [false],
      output_node: false,
      python_module: 'nodes',
      input_order: { required: ['model', 'seed', 'steps', 'cfg', 'sampler_name', 'scheduler', 'positive', 'negative', 'latent_image', 'denoise'] },
    });
    expect(info.KSampler!.input.required.sampler_name![0]).toEqual(['euler', 'euler_ancestral', 'dpmpp_2m', 'ddim']);
    expect(info.KSampler!.input.required.denoise).toEqual(['FLOAT', { default: 1, min: 0.01, max: 1, step: 0.01 }]);
    expect(info.KSampler!.input.required.model).toEqual(['MODEL']);
    expect(info.CheckpointLoaderSimple!.input.required.ckpt_name![0]).toEqual(['tiny-sdxl-base', 'tiny-sdxl-inpaint']);
    expect(info.SaveImage!.output_node).toBe(true);
    expect(info.InpaintModelConditioning!.output_name).toEqual(['positive', 'negative', 'latent']);
    expect(info['sampling/denoise']).toMatchObject({ category: 'maskflow/sampling', output: ['LATENT'], input: { required: { unet: ['MODEL'] } } });
    expect(info['sampling/denoise']!.input.optional!.steps).toEqual(['INT', expect.objectContaining({ default: 25, min: 1, max: 500 })]);
  });

  it('answers one class, or {} for an unknown one', () => {
    expect(Object.keys(objectInfoOf('LoadImage', registry, fakeEnv()))).toEqual(['LoadImage']);
    expect(objectInfoOf('NoSuchNode', registry, fakeEnv())).toEqual({});
  });
});
