// Installed models as GET /v1/models shows them (the catalogue's list with the provenance of
// pulled models), and deleting one.
import { existsSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NodeError } from '../engine/errors.js';
import type { ModelCatalog } from './catalog.js';
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

function folderFormat(dir: string): PulledFormat {
  return existsSync(path.join(dir, 'unet/model.onnx')) ? 'onnx' : 'diffusers';
}

/**
 * The catalogue's models (every format, with kind, size and whether compiled) joined with the
 * provenance of pulled ones. Pulled checkpoints are recorded by stem; the catalogue names them
 * by file name.
 */
export async function listInstalled(modelsDir: string, catalog: Pick<ModelCatalog, 'list'>): Promise<InstalledModel[]> {
  const pulled = new Map((await listPulled(modelsDir)).map((p) => [p.format === 'checkpoint' ? `${p.name}.safetensors` : p.name, p]));
  return catalog
    .list()
    .map((m) => {
      const p = pulled.get(m.name);
      return {
        name: m.name,
        format: m.format,
        ...(m.kind ? { kind: m.kind } : {}),
        size: m.bytes ?? 0,
        compiled: m.compiled ?? m.format === 'onnx',
        complete: m.complete,
        ...(m.missing.length ? { missing: m.missing } : {}),
        ...(p ? { source: p.provenance.source, pulledAt: p.provenance.pulledAt } : {}),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
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
