// Which files of a Hub repo maskflow installs. A diffusers repo: model_index.json and the
// components the SDXL pipeline runs (configs, tokenizers, safetensors weights, the fp16 variant
// when the repo has one); never pickles (.bin/.ckpt/.pt), Flax/TF/ONNX duplicates, or the
// safety_checker / feature_extractor unless asked. An Optimum ONNX repo: its ONNX components.
// A repo of single files: one .safetensors checkpoint (--file when there are several).
import { NodeError } from '../../engine/errors.js';
import type { HubFile } from './hub.js';

export type PulledFormat = 'diffusers' | 'onnx' | 'checkpoint';

export interface FileSelection {
  format: PulledFormat;
  files: HubFile[];
  /** Weight variant chosen for a diffusers repo (fp16 when present). */
  variant?: string;
}

/** Components of an SDXL diffusers pipeline maskflow runs. */
const DIFFUSERS_COMPONENTS = ['scheduler', 'tokenizer', 'tokenizer_2', 'text_encoder', 'text_encoder_2', 'unet', 'vae'];
/** Components downloaded only when asked for (`include`). */
export const OPTIONAL_COMPONENTS = ['safety_checker', 'feature_extractor', 'image_encoder'];
/** Components whose weights the pipeline needs (a folder without safetensors weights cannot run). */
const WEIGHTED = new Set(['text_encoder', 'text_encoder_2', 'unet', 'vae', 'safety_checker', 'image_encoder']);
const ONNX_COMPONENTS = ['scheduler', 'tokenizer', 'tokenizer_2', 'text_encoder', 'text_encoder_2', 'unet', 'vae_encoder', 'vae_decoder'];

const CONFIG_EXT = /\.(json|txt|model)$/;
const ONNX_EXT = /\.(onnx|onnx_data|pb)$/;
/** `model.fp16.safetensors`, `diffusion_pytorch_model.fp16-00001-of-00002.safetensors` */
const WEIGHT = /^([^./]+)(?:\.([A-Za-z0-9_]+))?(?:-\d{5}-of-\d{5})?\.safetensors$/;
/** `diffusion_pytorch_model.safetensors.index.fp16.json`; `.bin.index.json` belongs to pickles. */
const INDEX = /^[^./]+\.(safetensors|bin)\.index(?:\.([A-Za-z0-9_]+))?\.json$/;
const PICKLE = /\.(bin|ckpt|pt|pth|pkl|pickle)$/i;

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}
function baseOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export function selectFiles(all: HubFile[], opts: { file?: string; include?: string[]; preferVariant?: string } = {}): FileSelection {
  const byPath = new Map(all.map((f) => [f.path, f]));
  if (opts.file) return singleFile(all, byPath.get(opts.file), opts.file);
  if (!byPath.has('model_index.json')) return singleFile(all, undefined);
  const isOnnx = all.some((f) => baseOf(f.path) === 'model.onnx' && ONNX_COMPONENTS.includes(dirOf(f.path)));
  return isOnnx ? onnxFolder(all) : diffusersFolder(all, opts.include ?? [], opts.preferVariant ?? 'fp16');
}

function singleFile(all: HubFile[], chosen: HubFile | undefined, asked?: string): FileSelection {
  const candidates = all.filter((f) => f.path.endsWith('.safetensors'));
  const list = () => candidates.map((f) => f.path).join(', ') || 'none';
  if (asked !== undefined) {
    if (!chosen) throw new NodeError('pull_file_not_found', `--file "${asked}" is not in the repo (safetensors files: ${list()})`, { param: 'file' });
    if (!asked.endsWith('.safetensors'))
      throw new NodeError('pull_not_safetensors', `--file "${asked}" is not a .safetensors file; maskflow only installs safetensors (pickled .ckpt/.bin files can run code when loaded)`, { param: 'file' });
    return { format: 'checkpoint', files: [chosen] };
  }
  if (!candidates.length)
    throw new NodeError('pull_nothing_to_install', `the repo has no model_index.json (not a diffusers or Optimum ONNX folder) and no .safetensors checkpoint; files: ${all.map((f) => f.path).slice(0, 20).join(', ')}`);
  if (candidates.length === 1) return { format: 'checkpoint', files: candidates };
  // The same checkpoint in several precisions (x.safetensors, x.fp16.safetensors): take fp16.
  const stems = new Set(candidates.map((f) => f.path.replace(/\.(fp16|fp32|bf16)\.safetensors$/, '.safetensors')));
  const fp16 = candidates.find((f) => f.path.endsWith('.fp16.safetensors'));
  if (stems.size === 1 && fp16) return { format: 'checkpoint', files: [fp16] };
  throw new NodeError('pull_needs_file', `the repo holds several checkpoints; choose one with --file (or "file"): ${list()}`, { param: 'file', choices: candidates.map((f) => f.path) });
}

function onnxFolder(all: HubFile[]): FileSelection {
  const files = all.filter((f) => f.path === 'model_index.json' || (ONNX_COMPONENTS.includes(dirOf(f.path)) && (CONFIG_EXT.test(f.path) || ONNX_EXT.test(f.path))));
  return { format: 'onnx', files };
}

function diffusersFolder(all: HubFile[], include: string[], preferVariant: string): FileSelection {
  for (const c of include)
    if (!OPTIONAL_COMPONENTS.includes(c)) throw new NodeError('invalid_param', `cannot include "${c}"; optional components are ${OPTIONAL_COMPONENTS.join(', ')}`, { param: 'include' });
  const components = [...DIFFUSERS_COMPONENTS, ...include];
  const files: HubFile[] = [all.find((f) => f.path === 'model_index.json')!];
  let chosenVariant: string | undefined;
  for (const comp of components) {
    const inDir = all.filter((f) => dirOf(f.path) === comp);
    if (!inDir.length) continue;
    const weights = inDir.filter((f) => WEIGHT.test(baseOf(f.path)));
    const variants = new Set(weights.map((f) => WEIGHT.exec(baseOf(f.path))![2] ?? ''));
    const variant = variants.has(preferVariant) ? preferVariant : variants.has('') ? '' : undefined;
    if (WEIGHTED.has(comp) && variant === undefined) {
      const found = inDir.filter((f) => PICKLE.test(f.path) || f.path.endsWith('.safetensors')).map((f) => baseOf(f.path));
      throw new NodeError(
        'pull_no_safetensors',
        `component ${comp}/ has no safetensors weights maskflow can load${found.length ? ` (found: ${found.join(', ')})` : ''}; pickled weights are never installed`,
      );
    }
    if (variant) chosenVariant = variant;
    for (const f of inDir) {
      const name = baseOf(f.path);
      const w = WEIGHT.exec(name);
      const idx = INDEX.exec(name);
      if (w) {
        if ((w[2] ?? '') === variant) files.push(f);
      } else if (idx) {
        if (idx[1] === 'safetensors' && (idx[2] ?? '') === variant) files.push(f);
      } else if (CONFIG_EXT.test(name)) files.push(f);
    }
  }
  for (const need of ['unet', 'vae', 'text_encoder'])
    if (!files.some((f) => dirOf(f.path) === need))
      throw new NodeError('pull_nothing_to_install', `the repo has model_index.json but no ${need}/ folder; it is not an SDXL pipeline maskflow can run`);
  return { format: 'diffusers', files, ...(chosenVariant ? { variant: chosenVariant } : {}) };
}
