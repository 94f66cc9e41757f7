// Content hashes of what a job used (model folder, LoRA / embedding files), recorded on
// the job for reproducibility. Hashes are cached by (path, size, mtime) in the job store,
// so a multi-gigabyte model is read once, in the background, not per job.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { findInModelsDir } from '../models/model-sources.js';
import { checkpointPath } from '../checkpoints/discovery.js';
import { sha256OfFile } from '../storage/file-hash.js';
import type { JobStore } from './job-store.js';

export class ContentHasher {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly store: JobStore) {}

  /** sha256 of one file (hex). */
  async file(file: string): Promise<string> {
    const st = await stat(file);
    const cached = this.store.cachedFileHash(file, st.size, st.mtimeMs);
    if (cached) return cached;
    const key = `${file}|${st.size}|${st.mtimeMs}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = sha256OfFile(file).then((hex) => {
        this.store.putFileHash(file, st.size, st.mtimeMs, hex);
        return hex;
      });
      p.finally(() => this.inflight.delete(key)).catch(() => {});
      this.inflight.set(key, p);
    }
    return p;
  }

  /** One hash over every file in a model folder: sha256 of sorted "relative/path sha256" lines. */
  async folder(dir: string): Promise<string> {
    // Symlinked folders and files count (models folders often link into a shared store).
    const files: string[] = [];
    for (const rel of await readdir(dir, { recursive: true })) {
      const full = path.join(dir, rel);
      if (!path.basename(rel).startsWith('.') && (await stat(full).catch(() => undefined))?.isFile()) files.push(full);
    }
    files.sort();
    const lines: string[] = [];
    for (const f of files) lines.push(`${path.relative(dir, f).split(path.sep).join('/')} ${await this.file(f)}`);
    return createHash('sha256').update(lines.join('\n')).digest('hex');
  }
}

interface FileLookup {
  pathOf(id: string): Promise<string | undefined>;
}

/** What a job's hashes cover: its model folder and every uploaded LoRA / embedding file. */
export async function hashJobInputs(
  hasher: ContentHasher,
  job: { model?: string; inputs: Record<string, unknown> },
  modelsDir: string,
  files: FileLookup,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (job.model) {
    // A checkpoint file (checkpoints/<name>) or a model folder.
    const ckpt = checkpointPath(modelsDir, job.model);
    const folder = /^[A-Za-z0-9._-]+$/.test(job.model) && job.model !== '.' && job.model !== '..' ? path.join(modelsDir, job.model) : undefined;
    try {
      if (ckpt && (await stat(ckpt).catch(() => undefined))?.isFile()) out[`model:${job.model}`] = await hasher.file(ckpt);
      else if (folder) out[`model:${job.model}`] = await hasher.folder(folder);
    } catch {
      /* missing model: the run reports it */
    }
  }
  for (const kind of ['loras', 'embeddings'] as const) {
    const list = job.inputs[kind];
    if (!Array.isArray(list)) continue;
    for (const item of list as Array<{ path?: unknown }>) {
      const p = typeof item?.path === 'string' ? item.path : undefined;
      if (!p) continue;
      const id = /^upload:(.+)$/.exec(p)?.[1];
      const file = id ? await files.pathOf(id) : /^https?:/i.test(p) ? undefined : await findInModelsDir(modelsDir, kind, p);
      // URLs are fetched by the worker; their content is not known here, so the URL itself is recorded.
      out[`${kind === 'loras' ? 'lora' : 'embedding'}:${p}`] = file ? await hasher.file(file) : /^https?:/i.test(p) ? 'not-hashed:url' : 'not-found';
    }
  }
  return out;
}
