// Building blocks of the ComfyUI class table (classes-*.ts): input declarations as ComfyUI
// writes them, and the translations several classes share (text encoding, sampling, ControlNet).
import type { Link } from '../engine/workflow.js';
import { mapSampler, SAMPLER_NAMES, SCHEDULER_NAMES, supportedPairs } from './samplers.js';
import { isLinkValue, type ComfyEnv, type ComfyNode, type InputDef, type NodeTranslator } from './spec.js';

export const MAX_RESOLUTION = 8192; // maskflow's image side limit (ComfyUI: 16384)
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

export const link = (type: string, tooltip?: string): InputDef => ({ type, ...(tooltip ? { config: { tooltip } } : {}) });
export const int = (dflt: number, min: number, max: number, step = 1, extra: Record<string, unknown> = {}): InputDef => ({
  type: 'INT',
  config: { default: dflt, min, max, step, ...extra },
});
export const float = (dflt: number, min: number, max: number, step = 0.01, extra: Record<string, unknown> = {}): InputDef => ({
  type: 'FLOAT',
  config: { default: dflt, min, max, step, ...extra },
});
export const combo = (options: readonly string[] | ((env: ComfyEnv) => readonly string[]), extra: Record<string, unknown> = {}): InputDef => ({
  type: 'COMBO',
  options: typeof options === 'function' ? options : () => options,
  config: extra,
});
export const text = (dflt = '', multiline = true): InputDef => ({ type: 'STRING', config: { default: dflt, multiline, dynamicPrompts: multiline } });
export const bool = (dflt: boolean): InputDef => ({ type: 'BOOLEAN', config: { default: dflt } });

/** ComfyUI's CLIPSetLastLayer -n = hidden_states[-n]; maskflow (diffusers) clip_skip k = hidden_states[-(k + 2)]. */
export function clipSkipOf(t: NodeTranslator, input = 'clip'): number {
  let src = t.sourceOf(input);
  while (src && src.node.class_type === 'LoraLoader') src = sourceOfNode(t, src.node, 'clip');
  if (src?.node.class_type !== 'CLIPSetLastLayer') return 0;
  return -Number(src.node.inputs?.stop_at_clip_layer ?? -2) - 2;
}

/** The comfy node feeding input `input` of another node of the prompt. */
export function sourceOfNode(t: NodeTranslator, node: ComfyNode, input: string): { id: string; node: ComfyNode; slot: number } | undefined {
  const v = node.inputs?.[input];
  if (!isLinkValue(v)) return undefined;
  const src = t.node(String(v[0]));
  return src && { id: String(v[0]), node: src, slot: v[1] };
}

/** The CLIP of the checkpoint a MODEL chain starts from (LoraLoaderModelOnly needs one for apply-lora). */
export async function checkpointClip(t: NodeTranslator): Promise<Link> {
  let src = t.sourceOf('model');
  while (src && (src.node.class_type === 'LoraLoader' || src.node.class_type === 'LoraLoaderModelOnly')) src = sourceOfNode(t, src.node, 'model');
  if (!src || src.node.class_type !== 'CheckpointLoaderSimple') {
    t.fail('custom_validation_failed', 'Custom validation failed for node', 'model - maskflow applies a LoRA to a MODEL that comes from CheckpointLoaderSimple (directly or through other LoRA loaders)', {
      input_name: 'model',
    });
  }
  return (await t.outputsOf(src.id))[1]!;
}

export async function encodeText(t: NodeTranslator, params: Record<string, unknown>): Promise<Link[]> {
  const skip = clipSkipOf(t);
  const id = t.add('conditioning/encode-text', { ...params, clip_skip: skip, zero_empty_negative: true }, { clip: await t.link('clip') });
  return [[id, 'positive']];
}

export function samplerScheduler(t: NodeTranslator): string {
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
export function batchOf(t: NodeTranslator): number {
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
export async function applyControlNet(t: NodeTranslator, conditioning: string, p: { strength: number; start: number; end: number }): Promise<Link> {
  if (p.start >= p.end)
    t.fail('value_not_supported', 'start_percent must be below end_percent', `start_percent ${p.start} >= end_percent ${p.end}`, { input_name: 'start_percent' });
  const upstream = await controlOf(t, conditioning);
  const id = t.add('conditioning/apply-controlnet', p, { controlnet: await t.link('control_net'), image: await t.link('image'), ...(upstream ? { control: upstream } : {}) });
  return [id, 'control'];
}

export async function denoise(t: NodeTranslator, p: { seed: number; steps: number; cfg: number; strength: number }): Promise<Link[]> {
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

export const UPSCALE_KERNELS: Record<string, string> = { 'nearest-exact': 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos: 'lanczos3' };

export const samplerInputs = {
  sampler_name: combo(SAMPLER_NAMES, { tooltip: 'Samplers maskflow implements (see docs/comfyui.md for the mapping).' }),
  scheduler: combo(SCHEDULER_NAMES, { tooltip: 'normal = the model\'s timestep spacing; karras only with dpmpp_2m; ddim_uniform only with ddim.' }),
};


/** The maskflow link behind input `name` of another comfy node (for graph rewrites like SetLatentNoiseMask). */
export async function linkOfNode(t: NodeTranslator, node: ComfyNode, name: string): Promise<Link> {
  const v = node.inputs?.[name];
  if (!isLinkValue(v)) t.fail('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', name, { input_name: name });
  const outs = await t.outputsOf(String(v[0]));
  const out = outs[Number(v[1])];
  if (!out) t.fail('bad_linked_input', 'Bad linked input', `${name}: slot ${String(v[1])} does not exist`, { input_name: name });
  return out;
}
