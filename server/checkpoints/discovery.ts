// Finding models under the models directory: Optimum ONNX folders, diffusers folders and
// single-file checkpoints in checkpoints/ (ComfyUI's convention, subfolders allowed).
// Symlinks are followed everywhere: a models folder that links into a shared model store
// lists what the store has.
import { existsSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

export type ModelFormat = 'onnx' | 'diffusers' | 'checkpoint';

export interface ModelEntry {
  name: string;
  format: ModelFormat;
  /** The model folder, or the checkpoint file. */
  path: string;
}

export const CHECKPOINTS_DIR = 'checkpoints';
const CHECKPOINT_EXT = /\.safetensors$/i;
/** Pickle checkpoints are listed so that asking for one explains why it is refused. */
const PICKLE_EXT = /\.(ckpt|pt|pth)$/i;
/** Folders of the models directory that hold other things than pipelines. */
const RESERVED = new Set([CHECKPOINTS_DIR, 'loras', 'embeddings', 'controlnet', 'vae']);

export function statFollow(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** Entries of a folder that are directories, following symlinks; hidden ones skipped. */
export function subdirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.') && statFollow(path.join(dir, n))?.isDirectory())
    .sort();
}

function folderFormat(dir: string): ModelFormat | undefined {
  if (existsSync(path.join(dir, 'unet', 'model.onnx')) || existsSync(path.join(dir, 'unet', 'model.onnx_data'))) return 'onnx';
  if (existsSync(path.join(dir, 'model_index.json')) && existsSync(path.join(dir, 'unet', 'config.json')) && !existsSync(path.join(dir, 'unet', 'model.onnx'))) {
    const unet = path.join(dir, 'unet');
    if (readdirSync(unet).some((f) => f.endsWith('.safetensors') || f.endsWith('.safetensors.index.json') || /\.(bin|ckpt)$/.test(f))) return 'diffusers';
  }
  // A folder that only claims to be a pipeline: listed as ONNX so `verify` says what it lacks.
  if (existsSync(path.join(dir, 'model_index.json')) || existsSync(path.join(dir, 'unet'))) return 'onnx';
  return undefined;
}

/** Checkpoint files below checkpoints/, as names relative to it ('/'-separated). */
function checkpointFiles(root: string, rel = '', depth = 0): string[] {
  const dir = path.join(root, rel);
  if (depth > 3 || !existsSync(dir)) return [];
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    if (n.startsWith('.') || n.endsWith('.config')) continue;
    const st = statFollow(path.join(dir, n));
    const name = rel ? `${rel}/${n}` : n;
    if (st?.isDirectory()) out.push(...checkpointFiles(root, name, depth + 1));
    else if (st?.isFile() && (CHECKPOINT_EXT.test(n) || PICKLE_EXT.test(n))) out.push(name);
  }
  return out;
}

export function discoverModels(modelsDir: string): ModelEntry[] {
  const out: ModelEntry[] = [];
  for (const n of subdirs(modelsDir)) {
    if (RESERVED.has(n)) continue;
    const format = folderFormat(path.join(modelsDir, n));
    if (format) out.push({ name: n, format, path: path.join(modelsDir, n) });
  }
  const root = path.join(modelsDir, CHECKPOINTS_DIR);
  for (const rel of checkpointFiles(root)) out.push({ name: rel, format: 'checkpoint', path: path.join(root, rel) });
  return out;
}

/** Path of a checkpoint name inside checkpoints/, or undefined when it would leave it. */
export function checkpointPath(modelsDir: string, name: string): string | undefined {
  if (name.includes('\0') || name.split('/').some((s) => s === '' || s === '.' || s === '..')) return undefined;
  const root = path.resolve(modelsDir, CHECKPOINTS_DIR);
  const p = path.resolve(root, name);
  return p.startsWith(root + path.sep) ? p : undefined;
}

/** A known name as given, else the one checkpoint whose name without .safetensors it is. */
export function matchModelName(names: readonly string[], name: string): string | undefined {
  if (names.includes(name)) return name;
  const hits = names.filter((n) => /\.safetensors$/i.test(n) && n.replace(/\.safetensors$/i, '') === name);
  return hits.length === 1 ? hits[0] : undefined;
}
