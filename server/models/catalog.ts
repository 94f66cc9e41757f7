// Model folders (Hugging Face Optimum ONNX layout) under the models directory: which
// exist, whether each is complete, and what their configs say the pipeline must do.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { NodeError } from '../engine/errors.js';
import type { Logger } from '../log.js';
import type { Config } from '../config.js';
import { compiledAttention, compiledWeightDtype } from './inference-options.js';
import { checkpointPath, discoverModels, matchModelName, statFollow, type ModelEntry, type ModelFormat } from '../checkpoints/discovery.js';
import { compileCheckpoint, compiledDir, compiledPrefix, type CompiledManifest } from '../checkpoints/compile.js';
import type { AttentionOptions } from '../checkpoints/layers.js';
import { planBytes, planDiffusersFolder, planSingleFile, type CheckpointKind, type CheckpointPlan } from '../checkpoints/plan.js';
import { refusePickle } from '../checkpoints/read-header.js';

export type Component = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_encoder' | 'vae_decoder';
export const COMPONENTS: readonly Component[] = ['text_encoder', 'text_encoder_2', 'unet', 'vae_encoder', 'vae_decoder'];

/** Files a complete SDXL folder has (relative paths). */
export const REQUIRED_FILES: readonly string[] = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/model.onnx',
  'text_encoder_2/model.onnx',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer_2/vocab.json',
  'tokenizer_2/merges.txt',
  'unet/model.onnx',
  'unet/config.json',
  'vae_encoder/model.onnx',
  'vae_decoder/model.onnx',
  'vae_decoder/config.json',
];

export interface ModelInfo {
  name: string;
  dir: string;
  /** 9 = inpainting UNet (mask + masked-image latents concatenated); 4 = base model. */
  unetInChannels: number;
  /** The UNet's diffusers config (ControlNets are checked against it). */
  unetConfig: Record<string, unknown>;
  vaeScalingFactor: number;
  /** diffusers' tile_sample_min_size: the VAE config's sample_size (a list: its first element); 1024 for SDXL. */
  vaeTileSampleSize: number;
  /** diffusers' tile_latent_min_size: int(sample_size / 2^(len(block_out_channels) − 1)); 128 for SDXL. */
  vaeTileLatentSize: number;
  /** Image sides must be multiples of this: 8 × 2^(UNet levels − 1) (32 for SDXL-shaped exports). */
  sizeMultiple: number;
  /** Width of the UNet's time_ids: 6 (orig, crop, target) or 5 (refiner: + aesthetic score). */
  timeIdWidth: number;
  /** diffusers: a missing negative prompt gives zero embeddings instead of encoding "". */
  forceZerosForEmptyPrompt: boolean;
  requiresAestheticsScore: boolean;
  schedulerConfig: Record<string, unknown>;
  /** Bytes of weights per component (model.onnx plus external data files). */
  componentBytes: Record<Component, number>;
  format: ModelFormat;
  /** The checkpoint file or diffusers folder a compiled model was built from. */
  source?: string;
}

export interface ModelSummary {
  name: string;
  complete: boolean;
  missing: string[];
  kind?: CheckpointKind;
  /** onnx: an Optimum export; diffusers / checkpoint: safetensors weights compiled on first use. */
  format: ModelFormat;
  /** Bytes of weights on disk. */
  bytes?: number;
  /** diffusers / checkpoint: whether a compiled graph for this machine's dtype exists. */
  compiled?: boolean;
  /** Where the configuration comes from (checkpoints). */
  configFrom?: string;
  /** Why the model cannot run (unreadable file, another model family, ...). */
  error?: string;
}

export interface CatalogOptions {
  /** Where compiled checkpoints go (<dataDir>/compiled). */
  compiledDir?: string;
  /** Weight dtype of compiled graphs: float32 on CPU, float16 on CUDA (inference-options.ts). */
  dtype?: 'float32' | 'float16';
  /** How compiled graphs compute attention (inference-options.ts). */
  attention?: AttentionOptions;
  logger?: Logger;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new NodeError('model_invalid', `cannot read ${file}: ${(err as Error).message}`);
  }
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** model.onnx plus its external-data files (everything in the folder but JSON configs). */
function componentBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.json')) continue;
    const s = statSync(path.join(dir, f));
    if (s.isFile()) total += s.size;
  }
  return total;
}

export function missingFiles(dir: string): string[] {
  return REQUIRED_FILES.filter((f) => !existsSync(path.join(dir, f)));
}

/** Time-id width from the UNet config: (class-embedding input - pooled width) / time-embed width. */
function timeIdWidth(unet: Record<string, unknown>, te2: Record<string, unknown> | undefined): number {
  const total = num(unet.projection_class_embeddings_input_dim, NaN);
  const per = num(unet.addition_time_embed_dim, NaN);
  const pooled = num(unet.text_encoder_projection_dim, num(te2?.projection_dim, NaN));
  const w = (total - pooled) / per;
  return Number.isInteger(w) && w > 0 ? w : 6;
}

/**
 * diffusers AutoencoderKL's tile sizes from the VAE config. A config without sample_size gets
 * SDXL's 1024 rather than diffusers' class default 32 (which would tile at 4 latent cells);
 * every SDXL VAE config sets it, and compiled standard checkpoints carry SDXL_VAE's.
 */
function vaeTileSizes(vae: Record<string, unknown>): { vaeTileSampleSize: number; vaeTileLatentSize: number } {
  const sample = num(Array.isArray(vae.sample_size) ? vae.sample_size[0] : vae.sample_size, 1024);
  const levels = Array.isArray(vae.block_out_channels) ? vae.block_out_channels.length : 4;
  return { vaeTileSampleSize: sample, vaeTileLatentSize: Math.trunc(sample / 2 ** (levels - 1)) };
}

export function readModelInfo(name: string, dir: string, compiled?: { manifest: CompiledManifest }): ModelInfo {
  const missing = missingFiles(dir);
  if (missing.length) {
    throw new NodeError('model_incomplete', `model folder "${name}" is incomplete; missing: ${missing.join(', ')}`, {
      param: 'model',
      missing,
    });
  }
  const index = readJson(path.join(dir, 'model_index.json'));
  const unet = readJson(path.join(dir, 'unet/config.json'));
  const vae = readJson(path.join(dir, 'vae_decoder/config.json'));
  const te2File = path.join(dir, 'text_encoder_2/config.json');
  const te2 = existsSync(te2File) ? readJson(te2File) : undefined;
  const bytes = {} as Record<Component, number>;
  // Compiled folders hard-link whole checkpoint files into each component: count what the session holds.
  for (const c of COMPONENTS) bytes[c] = compiled ? (compiled.manifest.componentBytes[c] ?? 0) : componentBytes(path.join(dir, c));
  return {
    name,
    dir,
    unetInChannels: num(unet.in_channels, 4),
    unetConfig: unet,
    vaeScalingFactor: num(vae.scaling_factor, 0.13025),
    ...vaeTileSizes(vae),
    sizeMultiple: 8 * 2 ** Math.max(0, (Array.isArray(unet.block_out_channels) ? unet.block_out_channels.length : 3) - 1),
    timeIdWidth: timeIdWidth(unet, te2),
    forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt !== false,
    requiresAestheticsScore: index.requires_aesthetics_score === true || unet.requires_aesthetics_score === true,
    schedulerConfig: readJson(path.join(dir, 'scheduler/scheduler_config.json')),
    componentBytes: bytes,
    format: compiled ? compiled.manifest.format : 'onnx',
    ...(compiled ? { source: compiled.manifest.source } : {}),
  };
}

const FOLDER_NAME = /^[A-Za-z0-9._-]+$/;

export class ModelCatalog {
  private readonly infos = new Map<string, { stamp: string; info: ModelInfo; entry: ModelEntry }>();
  private readonly plans = new Map<string, { stamp: string; plan: CheckpointPlan }>();
  readonly compiledDir: string;
  readonly dtype: 'float32' | 'float16';

  constructor(
    readonly modelsDir: string,
    private readonly defaultModel?: string,
    private readonly opts: CatalogOptions = {},
  ) {
    this.compiledDir = opts.compiledDir ?? path.resolve('data', 'compiled');
    this.dtype = opts.dtype ?? 'float32';
  }

  entries(): ModelEntry[] {
    return discoverModels(this.modelsDir);
  }

  /** Model folders, diffusers folders and checkpoint files (names relative to checkpoints/). */
  names(): string[] {
    return this.entries().map((e) => e.name);
  }

  list(): ModelSummary[] {
    return this.entries().map((e) => this.summary(e));
  }

  private summary(e: ModelEntry): ModelSummary {
    if (e.format === 'onnx') {
      const missing = missingFiles(e.path);
      let kind: ModelSummary['kind'];
      if (!missing.includes('unet/config.json')) {
        try {
          const unet = JSON.parse(readFileSync(path.join(e.path, 'unet/config.json'), 'utf8')) as { in_channels?: number };
          kind = unet.in_channels === 9 ? 'inpaint' : 'base';
        } catch {
          /* reported as invalid when loaded */
        }
      }
      const bytes = COMPONENTS.reduce((a, c) => a + componentBytes(path.join(e.path, c)), 0);
      return { name: e.name, format: 'onnx', complete: missing.length === 0, missing, bytes, ...(kind ? { kind } : {}) };
    }
    try {
      const plan = this.plan(e);
      return {
        name: e.name,
        format: e.format,
        complete: plan.kind !== 'refiner',
        missing: [],
        kind: plan.kind,
        bytes: planBytes(plan),
        compiled: !!statFollow(compiledDir(plan, { outRoot: this.compiledDir, dtype: this.dtype, attention: this.opts.attention })),
        configFrom: plan.configFrom,
        ...(plan.kind === 'refiner' ? { error: 'SDXL refiner: maskflow needs both SDXL text encoders' } : {}),
      };
    } catch (err) {
      return { name: e.name, format: e.format, complete: false, missing: [], error: (err as Error).message };
    }
  }

  /** "" means config.defaultModel, else the first model found; a checkpoint's stem resolves when unambiguous. */
  resolveName(name: string): string {
    if (!name) {
      if (this.defaultModel) return this.resolveName(this.defaultModel);
      const all = this.names();
      if (!all.length) throw new NodeError('model_not_found', `no models in ${this.modelsDir} (drop a .safetensors checkpoint into ${path.join(this.modelsDir, 'checkpoints')}/)`, { param: 'model' });
      return all[0]!;
    }
    return matchModelName(this.names(), name) ?? name;
  }

  private entry(resolved: string): ModelEntry {
    const found = this.entries().find((e) => e.name === resolved);
    if (found) return found;
    const unsafe = resolved.includes('/') ? !checkpointPath(this.modelsDir, resolved) : !FOLDER_NAME.test(resolved) || resolved === '.' || resolved === '..';
    if (unsafe) throw new NodeError('model_not_found', `invalid model name "${resolved}"`, { param: 'model' });
    const known = this.names();
    throw new NodeError('model_not_found', `model "${resolved}" not found in ${this.modelsDir}${known.length ? ` (available: ${known.join(', ')})` : ''}`, { param: 'model' });
  }

  /** What changes when a checkpoint or folder is replaced (size and mtime of what it is read from). */
  private stamp(e: ModelEntry): string {
    if (e.format === 'checkpoint') {
      const st = statFollow(e.path);
      return `${st?.size}:${st?.mtimeMs}`;
    }
    return ['', 'model_index.json', 'unet', 'vae', 'text_encoder', 'text_encoder_2'].map((p) => statFollow(path.join(e.path, p))?.mtimeMs ?? 0).join(':');
  }

  private plan(e: ModelEntry): CheckpointPlan {
    const stamp = this.stamp(e);
    const hit = this.plans.get(e.name);
    if (hit?.stamp === stamp) return hit.plan;
    if (e.format === 'checkpoint' && !/\.safetensors$/i.test(e.path)) refusePickle(e.path, e.name);
    const plan = e.format === 'checkpoint' ? planSingleFile(e.path) : planDiffusersFolder(e.path, { variant: this.dtype === 'float16' ? 'fp16' : undefined });
    this.plans.set(e.name, { stamp, plan });
    return plan;
  }

  /** Compiles a checkpoint or diffusers folder ahead of use (no-op when compiled). */
  compile(name: string, onProgress?: (done: number, total: number, what: string) => void): { dir: string; manifest: CompiledManifest; compiled: boolean } {
    const e = this.entry(this.resolveName(name));
    if (e.format === 'onnx') throw new NodeError('model_invalid', `${e.name} is an ONNX folder; there is nothing to compile`, { param: 'model' });
    return compileCheckpoint(this.plan(e), { outRoot: this.compiledDir, dtype: this.dtype, attention: this.opts.attention, logger: this.opts.logger, onProgress });
  }

  get(name: string, onProgress?: (done: number, total: number, what: string) => void): ModelInfo {
    // Every node asks for its model: a known name costs a few stats, not a scan of the models folder.
    const known = name ? this.infos.get(name) : undefined;
    if (known && known.stamp === this.infoStamp(known.entry)) return known.info;
    const resolved = this.resolveName(name);
    const e = this.entry(resolved);
    const stamp = this.infoStamp(e);
    const cached = this.infos.get(resolved);
    if (cached && cached.stamp === stamp) return cached.info;
    let info: ModelInfo;
    if (e.format === 'onnx') info = readModelInfo(resolved, e.path);
    else {
      const c = this.compile(resolved, onProgress);
      info = readModelInfo(resolved, c.dir, c);
    }
    this.infos.set(resolved, { stamp, info, entry: e });
    return info;
  }

  /** What invalidates a cached ModelInfo: the folder vanishing (ONNX), the file or folder changing (others). */
  private infoStamp(e: ModelEntry): string {
    return e.format === 'onnx' ? String(existsSync(e.path)) : this.stamp(e);
  }

  /** Deletes the compiled graphs of a model (they hard-link its weights: deleting the file alone frees no disk). */
  removeCompiled(name: string): number {
    if (!existsSync(this.compiledDir)) return 0;
    const names = new Set([name, name.endsWith('.safetensors') ? name : `${name}.safetensors`].map(compiledPrefix));
    let removed = 0;
    for (const d of readdirSync(this.compiledDir)) {
      if (![...names].some((p) => d.startsWith(p))) continue;
      rmSync(path.join(this.compiledDir, d), { recursive: true, force: true });
      removed++;
    }
    this.infos.delete(name);
    this.plans.delete(name);
    return removed;
  }

  componentPath(name: string, component: Component): string {
    return path.join(this.get(name).dir, component, 'model.onnx');
  }
}

/** The catalogue a server, worker or CLI builds from its configuration. */
export function catalogFor(config: Pick<Config, 'modelsDir' | 'defaultModel' | 'dataDir' | 'ep' | 'attention'>, logger?: Logger): ModelCatalog {
  return new ModelCatalog(config.modelsDir, config.defaultModel, { compiledDir: path.join(config.dataDir, 'compiled'), dtype: compiledWeightDtype(config), attention: compiledAttention(config), logger });
}
