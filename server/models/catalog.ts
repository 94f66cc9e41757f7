// Model folders (Hugging Face Optimum ONNX layout) under the models directory: which
// exist, whether each is complete, and what their configs say the pipeline must do.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { NodeError } from '../engine/errors.js';

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
  vaeScalingFactor: number;
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
}

export interface ModelSummary {
  name: string;
  complete: boolean;
  missing: string[];
  kind?: 'inpaint' | 'base';
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

export function readModelInfo(name: string, dir: string): ModelInfo {
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
  for (const c of COMPONENTS) bytes[c] = componentBytes(path.join(dir, c));
  return {
    name,
    dir,
    unetInChannels: num(unet.in_channels, 4),
    vaeScalingFactor: num(vae.scaling_factor, 0.13025),
    sizeMultiple: 8 * 2 ** Math.max(0, (Array.isArray(unet.block_out_channels) ? unet.block_out_channels.length : 3) - 1),
    timeIdWidth: timeIdWidth(unet, te2),
    forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt !== false,
    requiresAestheticsScore: index.requires_aesthetics_score === true || unet.requires_aesthetics_score === true,
    schedulerConfig: readJson(path.join(dir, 'scheduler/scheduler_config.json')),
    componentBytes: bytes,
  };
}

export class ModelCatalog {
  private readonly infos = new Map<string, ModelInfo>();

  constructor(
    readonly modelsDir: string,
    private readonly defaultModel?: string,
  ) {}

  /** Folders under the models directory that look like pipelines (have model_index.json or a unet/). */
  names(): string[] {
    if (!existsSync(this.modelsDir)) return [];
    return readdirSync(this.modelsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .filter((n) => existsSync(path.join(this.modelsDir, n, 'model_index.json')) || existsSync(path.join(this.modelsDir, n, 'unet')))
      .sort();
  }

  list(): ModelSummary[] {
    return this.names().map((name) => {
      const missing = missingFiles(path.join(this.modelsDir, name));
      let kind: ModelSummary['kind'];
      if (!missing.includes('unet/config.json')) {
        try {
          const unet = JSON.parse(readFileSync(path.join(this.modelsDir, name, 'unet/config.json'), 'utf8')) as { in_channels?: number };
          kind = unet.in_channels === 9 ? 'inpaint' : 'base';
        } catch {
          /* reported as invalid when loaded */
        }
      }
      return { name, complete: missing.length === 0, missing, ...(kind ? { kind } : {}) };
    });
  }

  /** "" means config.defaultModel, else the only/first model folder found. */
  resolveName(name: string): string {
    if (name) return name;
    if (this.defaultModel) return this.defaultModel;
    const all = this.names();
    if (!all.length) throw new NodeError('model_not_found', `no model folders in ${this.modelsDir}`, { param: 'model' });
    return all[0]!;
  }

  get(name: string): ModelInfo {
    const resolved = this.resolveName(name);
    const cached = this.infos.get(resolved);
    if (cached) return cached;
    if (!/^[A-Za-z0-9._-]+$/.test(resolved) || resolved === '.' || resolved === '..') {
      throw new NodeError('model_not_found', `invalid model name "${resolved}"`, { param: 'model' });
    }
    const dir = path.join(this.modelsDir, resolved);
    if (!existsSync(dir)) {
      const known = this.names();
      throw new NodeError(
        'model_not_found',
        `model "${resolved}" not found in ${this.modelsDir}${known.length ? ` (available: ${known.join(', ')})` : ''}`,
        { param: 'model' },
      );
    }
    const info = readModelInfo(resolved, dir);
    this.infos.set(resolved, info);
    return info;
  }

  componentPath(name: string, component: Component): string {
    return path.join(this.get(name).dir, component, 'model.onnx');
  }
}
