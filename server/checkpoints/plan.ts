// What a checkpoint is and how to compile it: its configuration (diffusers folder configs, a
// config folder beside a single file, or the standard SDXL 1.0 one when the tensor shapes
// say so), its kind (inpaint / base / refiner) and, per component, a graph builder plus the
// weight source that feeds it.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { NodeError } from '../engine/errors.js';
import type { Component } from '../models/catalog.js';
import { buildClipGraph } from './clip-graph.js';
import { CLIP_BIGG, CLIP_L, SDXL_BASE_UNET, SDXL_REFINER_UNET, SDXL_SCHEDULER, SDXL_VAE, num, type ClipTextConfig, type UnetConfig, type VaeConfig } from './configs.js';
import { DT } from './graph-builder.js';
import type { AttentionOptions, FloatType, ModuleGraph } from './layers.js';
import { detectFamily, familyName, readHeader, type Header } from './read-header.js';
import { SGM_PREFIX, SgmClipLSource, SgmOpenClipSource, SgmUnetSource, SgmVaeSource } from './sgm-keys.js';
import { buildUnetGraph } from './unet-graph.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from './vae-graph.js';
import { MultiSource, PrefixSource, type WeightSource } from './weights.js';

export type CheckpointKind = 'inpaint' | 'base' | 'refiner';
export type WeightGroup = 'unet' | 'vae' | 'text_encoder' | 'text_encoder_2';

export interface ComponentPlan {
  component: Component;
  group: WeightGroup;
  build: (floatType: FloatType, attention?: AttentionOptions) => ModuleGraph;
  /** Written as the component's config.json. */
  config: Record<string, unknown>;
}

export interface CheckpointPlan {
  /** Model name: the file name of a single file, the folder name of a diffusers folder. */
  name: string;
  /** The file or folder. */
  source: string;
  format: 'checkpoint' | 'diffusers';
  kind: CheckpointKind;
  /** Where the configuration came from (shown by `models list` and in errors). */
  configFrom: string;
  headers: Header[];
  components: ComponentPlan[];
  /** Weight source per group; the unexpected-keys check runs per group. */
  sources: Record<WeightGroup, WeightSource>;
  modelIndex: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  /** Folders holding tokenizer files, or undefined for the CLIP BPE files shipped with maskflow. */
  tokenizerDirs: { tokenizer?: string; tokenizer_2?: string };
}

const PRECISION_TAG = /\.(fp16|fp32|bf16|half|full)$/i;

/** `x.safetensors` and `x.fp16.safetensors` are both served by `x.config/`. */
export function configFolderFor(file: string): string {
  const stem = path.basename(file).replace(/\.safetensors$/i, '').replace(PRECISION_TAG, '');
  return path.join(path.dirname(file), `${stem}.config`);
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new NodeError('checkpoint_config_invalid', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
}

function components(unet: UnetConfig, vae: VaeConfig, te1: ClipTextConfig, te2: ClipTextConfig): ComponentPlan[] {
  const pooledDim = num(te2.projection_dim, te2.hidden_size);
  return [
    { component: 'text_encoder', group: 'text_encoder', config: te1, build: (ft) => buildClipGraph(te1, { floatType: ft, withProjection: false, idsType: DT.INT32 }) },
    { component: 'text_encoder_2', group: 'text_encoder_2', config: te2, build: (ft) => buildClipGraph(te2, { floatType: ft, withProjection: true, idsType: DT.INT64 }) },
    { component: 'unet', group: 'unet', config: unet, build: (ft, attention) => buildUnetGraph(unet, { floatType: ft, pooledDim, attention, controlnetInputs: true }) },
    { component: 'vae_encoder', group: 'vae', config: vae, build: (ft, attention) => buildVaeEncoderGraph(vae, ft, attention) },
    { component: 'vae_decoder', group: 'vae', config: vae, build: (ft, attention) => buildVaeDecoderGraph(vae, ft, attention) },
  ];
}

function kindOf(unet: UnetConfig, hasTe1: boolean): CheckpointKind {
  if (!hasTe1) return 'refiner';
  return unet.in_channels === 9 ? 'inpaint' : 'base';
}

function defaultIndex(kind: CheckpointKind): Record<string, unknown> {
  return {
    _class_name: kind === 'inpaint' ? 'StableDiffusionXLInpaintPipeline' : kind === 'refiner' ? 'StableDiffusionXLImg2ImgPipeline' : 'StableDiffusionXLPipeline',
    force_zeros_for_empty_prompt: true,
    requires_aesthetics_score: kind === 'refiner',
  };
}

/** A single-file SGM checkpoint. `configDir` overrides the `<stem>.config/` folder beside it. */
export function planSingleFile(file: string, opts: { configDir?: string } = {}): CheckpointPlan {
  const name = path.basename(file);
  const header = readHeader(file, name);
  const keys = [...header.tensors.keys()];
  const family = detectFamily(keys);
  if (family !== 'sdxl' && family !== 'sdxl-refiner')
    throw new NodeError('unsupported_checkpoint', `${name} looks like ${familyName(family)}, not SDXL; maskflow runs SDXL checkpoints`, { file: name, family });
  if (header.tensors.has('v_pred') || header.tensors.has('edm_vpred.sigma_max'))
    throw new NodeError('unsupported_checkpoint', `${name} is a v-prediction model (it carries a v_pred marker key); maskflow's SDXL pipeline predicts epsilon`, { file: name });
  const t = header.tensors;
  const convIn = t.get(`${SGM_PREFIX.unet}input_blocks.0.0.weight`);
  const labelEmb = t.get(`${SGM_PREFIX.unet}label_emb.0.0.weight`);
  if (!convIn || !labelEmb) throw new NodeError('checkpoint_mismatch', `${name} has no SDXL UNet (model.diffusion_model.input_blocks.0.0.weight / label_emb.0.0.weight missing)`, { file: name });
  const configDir = opts.configDir ?? configFolderFor(file);
  let unet: UnetConfig, vae: VaeConfig, te1: ClipTextConfig, te2: ClipTextConfig;
  let configFrom: string;
  let modelIndex: Record<string, unknown> | undefined;
  let schedulerConfig: Record<string, unknown> = SDXL_SCHEDULER;
  let tokenizerDirs: CheckpointPlan['tokenizerDirs'] = {};
  if (existsSync(configDir)) {
    const need = ['unet/config.json', 'vae/config.json', 'text_encoder_2/config.json'];
    const missing = need.filter((f) => !existsSync(path.join(configDir, f)));
    if (missing.length) throw new NodeError('checkpoint_config_invalid', `config folder ${configDir} lacks ${missing.join(', ')}`, { file: name, missing });
    unet = readJson(path.join(configDir, 'unet/config.json')) as UnetConfig;
    vae = readJson(path.join(configDir, 'vae/config.json')) as VaeConfig;
    te2 = readJson(path.join(configDir, 'text_encoder_2/config.json')) as ClipTextConfig;
    te1 = (existsSync(path.join(configDir, 'text_encoder/config.json')) ? readJson(path.join(configDir, 'text_encoder/config.json')) : CLIP_L) as ClipTextConfig;
    if (existsSync(path.join(configDir, 'model_index.json'))) modelIndex = readJson(path.join(configDir, 'model_index.json'));
    if (existsSync(path.join(configDir, 'scheduler/scheduler_config.json'))) schedulerConfig = readJson(path.join(configDir, 'scheduler/scheduler_config.json'));
    for (const tk of ['tokenizer', 'tokenizer_2'] as const) if (existsSync(path.join(configDir, tk, 'vocab.json'))) tokenizerDirs[tk] = path.join(configDir, tk);
    configFrom = `config folder ${configDir}`;
  } else {
    // Standard SDXL 1.0 releases, recognised by the UNet's first width and addition-embedding input.
    const [width, inCh] = convIn.shape as [number, number];
    const adm = labelEmb.shape[1];
    const std = width === 320 && adm === 2816 ? SDXL_BASE_UNET : width === 384 && adm === 2560 ? SDXL_REFINER_UNET : undefined;
    if (!std)
      throw new NodeError(
        'checkpoint_config_required',
        `${name} is SDXL-shaped but not the standard SDXL 1.0 architecture (UNet width ${width}, addition input ${adm}); put its diffusers config folder at ${configDir} or pass --config DIR`,
        { file: name, expected: configDir },
      );
    unet = { ...std, in_channels: inCh };
    vae = SDXL_VAE;
    te1 = CLIP_L;
    te2 = CLIP_BIGG;
    configFrom = `standard SDXL 1.0 (${inCh === 9 ? 'inpainting' : std === SDXL_REFINER_UNET ? 'refiner' : 'base'}), inferred from tensor shapes`;
  }
  const hasTe1 = family === 'sdxl';
  const kind = kindOf(unet, hasTe1);
  const plans = components(unet, vae, te1, te2);
  return {
    name,
    source: file,
    format: 'checkpoint',
    kind,
    configFrom,
    headers: [header],
    components: hasTe1 ? plans : plans.filter((p) => p.component !== 'text_encoder'),
    sources: {
      unet: new SgmUnetSource(file, t, name),
      vae: new SgmVaeSource(file, t, name, vae.block_out_channels.length),
      text_encoder: new SgmClipLSource(file, t, name),
      text_encoder_2: new SgmOpenClipSource(file, t, name),
    },
    modelIndex: { ...defaultIndex(kind), ...(modelIndex ?? {}) },
    schedulerConfig,
    tokenizerDirs,
  };
}

/** Weight files of one diffusers component folder, preferring `variant` (e.g. fp16) when asked and present. */
export function componentWeightFiles(dir: string, base: string, variant?: string): string[] {
  const sharded = (index: string) => {
    const map = (readJson(index).weight_map ?? {}) as Record<string, string>;
    return [...new Set(Object.values(map))].map((f) => path.join(dir, f));
  };
  const tries: (() => string[] | undefined)[] = [];
  const single = (f: string) => () => (existsSync(path.join(dir, f)) ? [path.join(dir, f)] : undefined);
  const index = (f: string) => () => (existsSync(path.join(dir, f)) ? sharded(path.join(dir, f)) : undefined);
  if (variant) tries.push(single(`${base}.${variant}.safetensors`), index(`${base}.safetensors.index.${variant}.json`));
  tries.push(single(`${base}.safetensors`), index(`${base}.safetensors.index.json`));
  // Only a variant present (e.g. an fp16-only download): use it.
  for (const v of ['fp16', 'bf16']) if (v !== variant) tries.push(single(`${base}.${v}.safetensors`), index(`${base}.safetensors.index.${v}.json`));
  for (const t of tries) {
    const files = t();
    if (files) return files;
  }
  const pickles = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(bin|ckpt|pt|pth)$/.test(f)) : [];
  throw new NodeError(
    'checkpoint_incomplete',
    pickles.length
      ? `${dir} has only pickle weights (${pickles.join(', ')}); maskflow never unpickles files: download the .safetensors files`
      : `${dir} has no ${base}.safetensors weights`,
    { dir },
  );
}

function folderSource(files: string[], label: string): { source: WeightSource; headers: Header[] } {
  const headers = files.map((f) => readHeader(f, `${label}/${path.basename(f)}`));
  return { source: new MultiSource(headers.map((h) => new PrefixSource(h.file, h.tensors, '', label)), label), headers };
}

/** A diffusers folder (model_index.json + unet/, vae/, text_encoder/, text_encoder_2/). */
export function planDiffusersFolder(dir: string, opts: { variant?: string } = {}): CheckpointPlan {
  const name = path.basename(dir);
  const need = ['model_index.json', 'unet/config.json', 'vae/config.json', 'text_encoder_2/config.json'];
  const missing = need.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length) throw new NodeError('checkpoint_incomplete', `diffusers folder ${name} lacks ${missing.join(', ')}`, { missing });
  const unet = readJson(path.join(dir, 'unet/config.json')) as UnetConfig;
  const vae = readJson(path.join(dir, 'vae/config.json')) as VaeConfig;
  const te2 = readJson(path.join(dir, 'text_encoder_2/config.json')) as ClipTextConfig;
  const hasTe1 = existsSync(path.join(dir, 'text_encoder/config.json'));
  const te1 = hasTe1 ? (readJson(path.join(dir, 'text_encoder/config.json')) as ClipTextConfig) : CLIP_L;
  const kind = kindOf(unet, hasTe1);
  const groups: [WeightGroup, string, string][] = [
    ['unet', 'unet', 'diffusion_pytorch_model'],
    ['vae', 'vae', 'diffusion_pytorch_model'],
    ['text_encoder_2', 'text_encoder_2', 'model'],
  ];
  if (hasTe1) groups.push(['text_encoder', 'text_encoder', 'model']);
  const headers: Header[] = [];
  const sources = {} as Record<WeightGroup, WeightSource>;
  for (const [group, sub, base] of groups) {
    const r = folderSource(componentWeightFiles(path.join(dir, sub), base, opts.variant), `${name}/${sub}`);
    sources[group] = r.source;
    headers.push(...r.headers);
  }
  sources.text_encoder ??= new MultiSource([], `${name}/text_encoder`);
  const plans = components(unet, vae, te1, te2);
  const tokenizerDirs: CheckpointPlan['tokenizerDirs'] = {};
  for (const tk of ['tokenizer', 'tokenizer_2'] as const) if (existsSync(path.join(dir, tk, 'vocab.json'))) tokenizerDirs[tk] = path.join(dir, tk);
  const sched = path.join(dir, 'scheduler/scheduler_config.json');
  return {
    name,
    source: dir,
    format: 'diffusers',
    kind,
    configFrom: `diffusers folder ${dir}`,
    headers,
    components: hasTe1 ? plans : plans.filter((p) => p.component !== 'text_encoder'),
    sources,
    modelIndex: { ...defaultIndex(kind), ...readJson(path.join(dir, 'model_index.json')) },
    schedulerConfig: existsSync(sched) ? readJson(sched) : SDXL_SCHEDULER,
    tokenizerDirs,
  };
}

/** A diffusers folder: model_index.json and unet/config.json, but no ONNX export inside. */
export function isDiffusersFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'model_index.json')) && existsSync(path.join(dir, 'unet/config.json')) && !existsSync(path.join(dir, 'unet/model.onnx'));
}

/** Total bytes of a plan's weight files. */
export function planBytes(plan: CheckpointPlan): number {
  return plan.headers.reduce((a, h) => a + statSync(h.file).size, 0);
}
