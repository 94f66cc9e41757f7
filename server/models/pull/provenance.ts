// Where a pulled model came from, beside it: `<modelsDir>/<name>/maskflow-source.json` for a
// folder, `<modelsDir>/checkpoints/<name>.safetensors.source.json` for a single file. It names
// the source (Hub repo, revision and commit, or URL) and every installed file with its size and
// sha256, so `maskflow models verify` can re-check the bytes later.
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256OfFile } from '../../storage/file-hash.js';
import type { PulledFormat } from './select-files.js';

export const FOLDER_PROVENANCE = 'maskflow-source.json';
export const CHECKPOINT_PROVENANCE_SUFFIX = '.source.json';
export const CHECKPOINTS_DIR = 'checkpoints';

export type PullSource =
  | { type: 'hub'; endpoint: string; repo: string; revision: string; commit: string; variant?: string }
  | { type: 'url'; url: string; finalUrl: string; filename?: string };

export interface ProvenanceFile {
  /** Path relative to the model folder (a checkpoint: its file name). */
  path: string;
  /** Path in the repo, or the URL. */
  source: string;
  size: number;
  sha256: string;
}

export interface Provenance {
  maskflowProvenance: 1;
  name: string;
  format: PulledFormat;
  source: PullSource;
  pulledAt: string;
  files: ProvenanceFile[];
}

export interface PulledModel {
  name: string;
  format: PulledFormat;
  /** The folder, or the checkpoint file. */
  path: string;
  provenancePath: string;
  provenance: Provenance;
}

export function installPath(modelsDir: string, name: string, format: PulledFormat): string {
  return format === 'checkpoint' ? path.join(modelsDir, CHECKPOINTS_DIR, `${name}.safetensors`) : path.join(modelsDir, name);
}

export function provenancePath(installed: string, format: PulledFormat): string {
  return format === 'checkpoint' ? `${installed}${CHECKPOINT_PROVENANCE_SUFFIX}` : path.join(installed, FOLDER_PROVENANCE);
}

/** Writes atomically (temp name + rename) so a reader never sees half a JSON. */
export async function writeProvenance(file: string, p: Provenance): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(p, null, 2)}\n`);
  await rename(tmp, file);
}

export async function readProvenance(file: string): Promise<Provenance | undefined> {
  try {
    const p = JSON.parse(await readFile(file, 'utf8')) as Provenance;
    return p?.maskflowProvenance === 1 && Array.isArray(p.files) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Every pulled model under the models folder (those with a provenance file). */
export async function listPulled(modelsDir: string): Promise<PulledModel[]> {
  const out: PulledModel[] = [];
  if (!existsSync(modelsDir)) return out;
  for (const e of await readdir(modelsDir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dir = path.join(modelsDir, e.name);
    const pp = path.join(dir, FOLDER_PROVENANCE);
    const p = existsSync(pp) ? await readProvenance(pp) : undefined;
    if (p) out.push({ name: e.name, format: p.format, path: dir, provenancePath: pp, provenance: p });
  }
  const ckpts = path.join(modelsDir, CHECKPOINTS_DIR);
  if (existsSync(ckpts)) {
    for (const f of await readdir(ckpts)) {
      if (!f.endsWith(`.safetensors${CHECKPOINT_PROVENANCE_SUFFIX}`) || f.startsWith('.')) continue;
      const pp = path.join(ckpts, f);
      const p = await readProvenance(pp);
      const file = pp.slice(0, -CHECKPOINT_PROVENANCE_SUFFIX.length);
      if (p) out.push({ name: path.basename(file, '.safetensors'), format: 'checkpoint', path: file, provenancePath: pp, provenance: p });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Re-hashes every recorded file; returns one problem per missing, resized or changed file. */
export async function verifyPulled(m: PulledModel, onFile?: (file: string) => void): Promise<string[]> {
  const problems: string[] = [];
  const base = m.format === 'checkpoint' ? path.dirname(m.path) : m.path;
  for (const f of m.provenance.files) {
    const p = path.resolve(base, f.path);
    if (!p.startsWith(path.resolve(base) + path.sep)) {
      problems.push(`${f.path}: path leaves the model folder`);
      continue;
    }
    onFile?.(f.path);
    let size: number;
    try {
      size = (await stat(p)).size;
    } catch {
      problems.push(`${f.path}: missing`);
      continue;
    }
    if (size !== f.size) {
      problems.push(`${f.path}: ${size} bytes, expected ${f.size}`);
      continue;
    }
    const sha = await sha256OfFile(p);
    if (sha !== f.sha256) problems.push(`${f.path}: sha256 ${sha} does not match the recorded ${f.sha256}`);
  }
  return problems;
}
