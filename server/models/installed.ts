// Installed models as GET /v1/models shows them: the catalogue's model folders plus what a
// pull installs that the catalogue may not list yet (single-file checkpoints under
// checkpoints/, diffusers folders), each with its kind, format, size and provenance; and
// deleting one. Built on ModelCatalog.list(); fields the catalogue reports win.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NodeError } from '../engine/errors.js';
import type { ModelCatalog, ModelSummary } from './catalog.js';
import { SafetensorsFile } from './safetensors.js';
import { CHECKPOINTS_DIR, CHECKPOINT_PROVENANCE_SUFFIX, listPulled, type PullSource } from './pull/provenance.js';
import type { PulledFormat } from './pull/select-files.js';

export type ModelKind = 'inpaint' | 'base' | 'refiner';

export interface InstalledModel {
  name: string;
  format: PulledFormat;
  kind?: ModelKind;
  /** Bytes on disk. */
  size: number;
  /** Runnable as it is (ONNX), or already converted for the runtime (checkpoints, diffusers). */
  compiled: boolean;
  complete: boolean;
  missing?: string[];
  source?: PullSource;
  pulledAt?: string;
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function treeBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += treeBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Kind of a pipeline folder from its configs: 9 UNet input channels = inpaint; a refiner has no first text encoder. */
function folderKind(dir: string): ModelKind | undefined {
  const unet = readJson(path.join(dir, 'unet/config.json'));
  const index = readJson(path.join(dir, 'model_index.json'));
  if (!unet) return undefined;
  if (unet.in_channels === 9) return 'inpaint';
  const noTe1 = Array.isArray(index?.text_encoder) && index.text_encoder[0] === null;
  if (index?.requires_aesthetics_score === true || noTe1) return 'refiner';
  return 'base';
}

/** Kind of an SGM-layout checkpoint from its tensor names and the UNet's first conv. */
async function checkpointKind(file: string): Promise<ModelKind | undefined> {
  let st: SafetensorsFile | undefined;
  try {
    st = await SafetensorsFile.open(file);
    const conv = st.tensors.get('model.diffusion_model.input_blocks.0.0.weight');
    if (conv?.shape[1] === 9) return 'inpaint';
    const keys = st.keys();
    if (!keys.some((k) => k.startsWith('conditioner.embedders.1.')) && keys.some((k) => k.startsWith('conditioner.embedders.0.model.'))) return 'refiner';
    return conv ? 'base' : undefined;
  } catch {
    return undefined;
  } finally {
    await st?.close();
  }
}

function folderFormat(dir: string): PulledFormat {
  return existsSync(path.join(dir, 'unet/model.onnx')) ? 'onnx' : 'diffusers';
}

export async function listInstalled(modelsDir: string, catalog: Pick<ModelCatalog, 'list'>): Promise<InstalledModel[]> {
  const pulled = new Map((await listPulled(modelsDir)).map((p) => [`${p.format === 'checkpoint' ? 'c' : 'f'}:${p.name}`, p]));
  const out = new Map<string, InstalledModel>();
  const summaries = catalog.list() as Array<ModelSummary & Partial<InstalledModel>>;
  for (const m of summaries) {
    const dir = path.join(modelsDir, m.name);
    const isDir = existsSync(dir) && statSync(dir).isDirectory();
    const format = m.format ?? (isDir ? folderFormat(dir) : 'checkpoint');
    // Pulled checkpoints are recorded by stem; the catalogue names them by file name.
    const p = pulled.get(format === 'checkpoint' ? `c:${m.name.replace(/\.safetensors$/i, '')}` : `f:${m.name}`);
    const kind = m.kind ?? (isDir ? folderKind(dir) : undefined);
    out.set(m.name, {
      name: m.name,
      format,
      ...(kind ? { kind } : {}),
      size: m.size ?? m.bytes ?? (isDir ? treeBytes(dir) : 0),
      compiled: m.compiled ?? format === 'onnx',
      complete: m.complete,
      ...(m.missing.length ? { missing: m.missing } : {}),
      ...(p ? { source: p.provenance.source, pulledAt: p.provenance.pulledAt } : {}),
    });
  }
  // Folders the catalogue does not show (diffusers before it learns them).
  if (existsSync(modelsDir)) {
    for (const e of await readdir(modelsDir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.') || e.name === CHECKPOINTS_DIR || out.has(e.name)) continue;
      const dir = path.join(modelsDir, e.name);
      if (!existsSync(path.join(dir, 'model_index.json'))) continue;
      const p = pulled.get(`f:${e.name}`);
      const kind = folderKind(dir);
      out.set(e.name, { name: e.name, format: folderFormat(dir), ...(kind ? { kind } : {}), size: treeBytes(dir), compiled: false, complete: true, ...(p ? { source: p.provenance.source, pulledAt: p.provenance.pulledAt } : {}) });
    }
  }
  const ckpts = path.join(modelsDir, CHECKPOINTS_DIR);
  if (existsSync(ckpts)) {
    for (const f of (await readdir(ckpts)).sort()) {
      if (!f.endsWith('.safetensors') || f.startsWith('.')) continue;
      const name = f;
      if (out.has(name)) continue;
      const file = path.join(ckpts, f);
      const p = pulled.get(`c:${f.slice(0, -'.safetensors'.length)}`);
      const kind = await checkpointKind(file);
      out.set(name, { name, format: 'checkpoint', ...(kind ? { kind } : {}), size: (await stat(file)).size, compiled: false, complete: true, ...(p ? { source: p.provenance.source, pulledAt: p.provenance.pulledAt } : {}) });
    }
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Deletes an installed model: its folder, or its checkpoint file and provenance. The folder is
 * first renamed to a hidden name, so it disappears from listings at once and never half-deleted.
 */
export async function deleteInstalled(modelsDir: string, given: string): Promise<{ format: PulledFormat; path: string }> {
  // Checkpoints are named by file name in the catalogue; the stem works too.
  const name = given.replace(/\.safetensors$/i, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name) || name === CHECKPOINTS_DIR || name === 'loras' || name === 'embeddings')
    throw new NodeError('invalid_param', `invalid model name "${name.slice(0, 100)}"`, { param: 'name' });
  const dir = path.join(modelsDir, name);
  if (existsSync(dir) && statSync(dir).isDirectory() && (existsSync(path.join(dir, 'model_index.json')) || existsSync(path.join(dir, 'unet')))) {
    const format = folderFormat(dir);
    const trash = path.join(modelsDir, `.deleting-${name}-${randomBytes(4).toString('hex')}`);
    await rename(dir, trash);
    await rm(trash, { recursive: true, force: true });
    return { format, path: dir };
  }
  const file = path.join(modelsDir, CHECKPOINTS_DIR, `${name}.safetensors`);
  if (existsSync(file)) {
    await rm(file);
    await rm(`${file}${CHECKPOINT_PROVENANCE_SUFFIX}`, { force: true });
    return { format: 'checkpoint', path: file };
  }
  throw new NodeError('model_not_found', `model "${name}" is not installed`, { param: 'name', status: 404 });
}
