// Session sources of Optimum ONNX components with their exported attention rewritten into
// MultiHeadAttention (onnx-attention.ts). Only the graph changes. The result is a folder under
// the cache dir: the rewritten model.onnx, streamed to disk, plus hard links to the original
// external weight files (a 10 GB UNet is never copied; ORT reads external data only next to the
// model file it loads). Inline models (a few hundred MB at most: protobuf caps them at 2 GB)
// carry their weights inside that model.onnx. LoRA-patched sources arrive as bytes and leave as
// bytes.
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, open, readFile, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Component } from './catalog.js';
import { loadOnnxModel, parseOnnxModel, type OnnxModel } from './onnx-graph.js';
import { rewriteAttention } from './onnx-attention.js';
import { concat } from './protobuf.js';
import type { ComponentSource } from './sessions.js';

/** Components whose exported attention is rewritten (CLIP's causal-masked attention is left alone). */
export const FUSED_ATTENTION_COMPONENTS: readonly Component[] = ['unet', 'vae_encoder', 'vae_decoder'];

/** Where rewritten models with external data live, below the data dir. */
export function attentionCacheDir(dataDir: string): string {
  return path.join(dataDir, 'cache', 'attention');
}

/** Names the model a cache folder was built from, so a deleted model's folder can be found. */
const SOURCE_FILE = 'source.json';

/**
 * Removes cache folders whose source model is gone. They hard-link its weights, so deleting
 * the model alone would free no disk (the models API calls this after a delete).
 */
export async function removeOrphanedFusedAttention(cacheDir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    if (name.includes('.tmp-')) continue;
    const dir = path.join(cacheDir, name);
    const source = await readFile(path.join(dir, SOURCE_FILE), 'utf8').then(
      (t) => (JSON.parse(t) as { model?: unknown }).model,
      () => undefined,
    );
    if (typeof source === 'string' && (await exists(source))) continue;
    await rm(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** Bump when the rewrite changes, so cached folders are rebuilt. */
const REWRITE_VERSION = 1;

export interface FusedAttentionOptions {
  /** Where rewritten models with external data are kept (<dataDir>/cache/attention). */
  cacheDir?: string;
  logger?: Logger;
  /** For logs: model/component. */
  label: string;
}

export async function withFusedAttention(src: ComponentSource, opts: FusedAttentionOptions): Promise<ComponentSource> {
  if (src.bytes) {
    const model = parseOnnxModel(src.bytes, '');
    const chunks = rewritten(model, opts);
    return chunks ? { ...src, bytes: concat(chunks) } : src;
  }
  if (!src.path) return src;
  const key = opts.cacheDir ? await folderKey(src.path) : '';
  const cached = opts.cacheDir ? path.join(opts.cacheDir, key, 'model.onnx') : '';
  if (cached && (await exists(cached))) return { ...src, path: cached };
  const model = await loadOnnxModel(src.path);
  const external = [...model.initializers.values()].some((t) => t.external);
  if (external && !opts.cacheDir) {
    opts.logger?.debug({ model: opts.label }, 'attention left as exported: external weights and no cache dir to write the rewritten graph to');
    return src;
  }
  const chunks = rewritten(model, opts);
  if (!chunks) return src;
  // Without a cache dir (tests' stores) an inline model goes to ORT as bytes. With one, inline
  // models are written once too: the rewritten graph is streamed to disk, never concatenated
  // into a second in-memory copy, and later sessions (after an eviction) load the file.
  if (!opts.cacheDir) return { ...src, bytes: concat(chunks) };
  await materialize(model, chunks, path.join(opts.cacheDir!, key), src.path);
  await pruneStale(opts.cacheDir!, key);
  return { ...src, path: cached };
}

function rewritten(model: OnnxModel, opts: FusedAttentionOptions): Uint8Array[] | undefined {
  const t0 = performance.now();
  const r = rewriteAttention(model);
  opts.logger?.debug({ model: opts.label, rewritten: r.rewritten, left: r.left, ms: Math.round(performance.now() - t0) }, 'exported attention rewritten to MultiHeadAttention');
  return r.chunks;
}

/**
 * Key of a component folder: `<hash of its real path>-<hash of every file's size, mtime and
 * inode>`, so a changed model gets a new folder and the old one can be found and removed.
 */
async function folderKey(modelFile: string): Promise<string> {
  const dir = await realpath(path.dirname(modelFile));
  const where = createHash('sha256').update(`${dir}\n${path.basename(modelFile)}`).digest('hex').slice(0, 16);
  const h = createHash('sha256').update(`v${REWRITE_VERSION}\n`);
  for (const name of (await readdir(dir)).sort()) {
    const s = await stat(path.join(dir, name));
    h.update(`${name}\t${s.size}\t${s.mtimeMs}\t${s.ino}\n`);
  }
  return `${where}-${h.digest('hex').slice(0, 16)}`;
}

/** Removes folders of earlier versions of the same model (live sessions have read their files). */
async function pruneStale(cacheDir: string, key: string): Promise<void> {
  const prefix = key.slice(0, key.indexOf('-') + 1);
  for (const name of await readdir(cacheDir))
    if (name.startsWith(prefix) && name !== key && !name.includes('.tmp-')) await rm(path.join(cacheDir, name), { recursive: true, force: true });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Writes the rewritten graph (streamed chunk by chunk) beside hard links to the weight files. */
async function materialize(model: OnnxModel, chunks: Uint8Array[], dir: string, source: string): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    const locations = new Set<string>();
    for (const t of model.initializers.values()) if (t.external) locations.add(t.external.location);
    for (const loc of locations) {
      const from = path.resolve(model.dir, loc);
      const to = path.resolve(tmp, loc);
      if (!from.startsWith(path.resolve(model.dir) + path.sep) || !to.startsWith(tmp + path.sep)) throw new Error(`external data location ${loc} leaves the model folder`);
      await mkdir(path.dirname(to), { recursive: true });
      await link(from, to).catch(() => copyFile(from, to));
    }
    await writeFile(path.join(tmp, SOURCE_FILE), JSON.stringify({ model: path.resolve(source) }));
    const fh = await open(path.join(tmp, 'model.onnx'), 'w');
    try {
      for (const c of chunks) await fh.write(c);
    } finally {
      await fh.close();
    }
    await rename(tmp, dir).catch(async (err) => {
      // Another worker built the same folder meanwhile: use theirs.
      if (!(await exists(path.join(dir, 'model.onnx')))) throw err;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
