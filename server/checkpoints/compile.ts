// Compiles a checkpoint plan into an Optimum-layout model folder under <dataDir>/compiled, so
// every pipeline node runs it unchanged. The graphs point at byte ranges of the original
// weight files through hard links in each component folder (onnxruntime only reads external
// data inside the model's folder): no weight is copied or converted on disk. When the data
// dir is on another filesystem, each file is copied once per compiled model instead.
// The folder is written under a temporary name and renamed into place, so a crash never
// leaves a half-compiled model that later loads.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeError } from '../engine/errors.js';
import type { Logger } from '../log.js';
import type { Component } from '../models/catalog.js';
import { DT } from './graph-builder.js';
import { DEFAULT_ATTENTION, type AttentionOptions, type FloatType } from './layers.js';
import type { CheckpointPlan, WeightGroup } from './plan.js';

/** Bump when the graphs change: old compiled folders are then rebuilt. */
export const COMPILER_VERSION = 3;
export const MANIFEST = 'maskflow-compiled.json';
const CLIP_BPE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'clip-bpe');

export interface CompiledManifest {
  compilerVersion: number;
  name: string;
  source: string;
  format: CheckpointPlan['format'];
  kind: CheckpointPlan['kind'];
  configFrom: string;
  dtype: 'float32' | 'float16';
  attention: AttentionOptions;
  key: string;
  /** Weight bytes each component's session holds once loaded (compute dtype). */
  componentBytes: Partial<Record<Component, number>>;
  params: number;
  /** Files that were copied because hard links were impossible (other filesystem). */
  copied: string[];
  compiledAt: string;
  ms: number;
}

export interface CompileOptions {
  /** <dataDir>/compiled */
  outRoot: string;
  dtype: 'float32' | 'float16';
  /** How attention is computed (inference-options.ts); part of the key. */
  attention?: AttentionOptions;
  logger?: Logger;
  /** Called before each component (for progress bars and websocket events). */
  onProgress?: (done: number, total: number, what: string) => void;
}

const safeName = (n: string) => n.replace(/[^A-Za-z0-9._-]/g, '_');
/** Every compiled folder of a model name starts with this (any dtype, any version of the file). */
export const compiledPrefix = (name: string) => `${safeName(name)}-`;

export function cacheKey(plan: CheckpointPlan, dtype: string, attention: AttentionOptions = DEFAULT_ATTENTION): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({
    v: COMPILER_VERSION,
    dtype,
    attention: attention.impl === 'chunked' ? attention : attention.impl,
    source: plan.source,
    files: plan.headers.map((x) => [x.file, x.size, x.mtimeMs, x.headerHash]),
    configs: plan.components.map((c) => c.config),
    index: plan.modelIndex,
    scheduler: plan.schedulerConfig,
    tokenizers: plan.tokenizerDirs,
  }));
  return h.digest('hex').slice(0, 16);
}

export function compiledDir(plan: CheckpointPlan, opts: Pick<CompileOptions, 'outRoot' | 'dtype' | 'attention'>): string {
  return path.join(opts.outRoot, `${safeName(plan.name)}-${opts.dtype === 'float16' ? 'fp16-' : ''}${cacheKey(plan, opts.dtype, opts.attention)}`);
}

export function readManifest(dir: string): CompiledManifest | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as CompiledManifest;
  } catch {
    return undefined;
  }
}

/** The compiled folder of a plan, compiling it first when needed. */
export function compileCheckpoint(plan: CheckpointPlan, opts: CompileOptions): { dir: string; manifest: CompiledManifest; compiled: boolean } {
  const dir = compiledDir(plan, opts);
  const existing = readManifest(dir);
  if (existing) return { dir, manifest: existing, compiled: false };
  if (plan.kind === 'refiner')
    throw new NodeError('unsupported_checkpoint', `${plan.name} is an SDXL refiner (no CLIP-L text encoder); maskflow's pipeline needs both SDXL text encoders`, { file: plan.name });
  const t0 = performance.now();
  writeAtomically(dir, (tmp) => {
    const manifest = writeCompiled(plan, tmp, opts);
    manifest.ms = Math.round(performance.now() - t0);
    writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 2));
  });
  pruneStale(plan, dir, opts.outRoot);
  const manifest = readManifest(dir)!;
  opts.logger?.info({ model: plan.name, dir, ms: manifest.ms, dtype: opts.dtype, copied: manifest.copied.length }, 'checkpoint compiled');
  return { dir, manifest, compiled: true };
}

function writeCompiled(plan: CheckpointPlan, out: string, opts: CompileOptions): CompiledManifest {
  const ft: FloatType = opts.dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT;
  const attention = opts.attention ?? DEFAULT_ATTENTION;
  const used = new Map<WeightGroup, Set<string>>();
  const componentBytes: CompiledManifest['componentBytes'] = {};
  const copied: string[] = [];
  /** First place each weight file landed in this folder (later components link to it). */
  const placed = new Map<string, string>();
  let params = 0;
  plan.components.forEach((c, i) => {
    opts.onProgress?.(i, plan.components.length, c.component);
    const g = c.build(ft, attention);
    const rep = g.resolve(plan.sources[c.group], (f) => path.basename(f), c.component);
    const cdir = path.join(out, c.component);
    mkdirSync(cdir, { recursive: true });
    linkWeights(rep.files, cdir, placed, copied);
    writeFileSync(path.join(cdir, 'model.onnx'), g.toBytes(`${plan.name}/${c.component}`));
    writeFileSync(path.join(cdir, 'config.json'), JSON.stringify(c.config, null, 2));
    const set = used.get(c.group) ?? new Set<string>();
    for (const k of rep.usedKeys) set.add(k);
    used.set(c.group, set);
    componentBytes[c.component] = rep.computeBytes;
    params += rep.params;
  });
  opts.onProgress?.(plan.components.length, plan.components.length, 'done');
  // Tensors nothing reads mean the configuration does not describe these weights.
  for (const [group, keys] of used) {
    const extra = [...plan.sources[group].keys()].filter((k) => !keys.has(k));
    if (extra.length)
      throw new NodeError('checkpoint_mismatch', `${plan.sources[group].label}: ${extra.length} ${group} tensor(s) the configuration has no place for: ${extra.slice(0, 12).join(', ')}${extra.length > 12 ? ' …' : ''}`, {
        component: group,
        unexpected: extra,
      });
  }
  for (const tk of ['tokenizer', 'tokenizer_2'] as const) {
    const dst = path.join(out, tk);
    mkdirSync(dst);
    const src = plan.tokenizerDirs[tk];
    if (src) {
      for (const f of readdirSync(src)) copyFileSync(path.join(src, f), path.join(dst, f));
    } else {
      for (const f of ['vocab.json', 'merges.txt']) copyFileSync(path.join(CLIP_BPE, f), path.join(dst, f));
      for (const f of readdirSync(path.join(CLIP_BPE, tk))) copyFileSync(path.join(CLIP_BPE, tk, f), path.join(dst, f));
    }
  }
  mkdirSync(path.join(out, 'scheduler'));
  writeFileSync(path.join(out, 'scheduler/scheduler_config.json'), JSON.stringify(plan.schedulerConfig, null, 2));
  writeFileSync(path.join(out, 'model_index.json'), JSON.stringify(plan.modelIndex, null, 2));
  return {
    compilerVersion: COMPILER_VERSION,
    name: plan.name,
    source: plan.source,
    format: plan.format,
    kind: plan.kind,
    configFrom: plan.configFrom,
    dtype: opts.dtype,
    attention,
    key: cacheKey(plan, opts.dtype, attention),
    componentBytes,
    params,
    copied,
    compiledAt: new Date().toISOString(),
    ms: 0,
  };
}

/**
 * Hard-links weight files into a model folder (onnxruntime reads external data only inside
 * it). `placed` remembers the first link of each file so later folders link to that one;
 * across filesystems the file is copied once and listed in `copied`.
 */
export function linkWeights(files: string[], dir: string, placed: Map<string, string>, copied: string[]): void {
  for (const f of files) {
    const target = path.join(dir, path.basename(f));
    const from = placed.get(f);
    try {
      // The real file: a hard link to a symlink would still point outside the model folder.
      linkSync(from ?? realpathSync(f), target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      copyFileSync(f, target);
      copied.push(f);
    }
    if (!from) placed.set(f, target);
  }
}

/** Writes a folder under a temporary name and renames it into place (or keeps a concurrent winner's). */
export function writeAtomically(dir: string, write: (tmp: string) => void): void {
  mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp);
  try {
    write(tmp);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!readManifest(dir)) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Older compiles of the same model (changed file or config, or an older compiler). */
function pruneStale(plan: CheckpointPlan, keep: string, root: string): void {
  const prefix = compiledPrefix(plan.name);
  for (const e of readdirSync(root)) {
    const full = path.join(root, e);
    if (full === keep || !e.startsWith(prefix) || e.includes('.tmp-')) continue;
    const m = readManifest(full);
    const kept = readManifest(keep);
    // Another attention choice is another variant (a bench compares them), not a stale one.
    const sameVariant = m && kept && m.dtype === kept.dtype && (m.compilerVersion !== kept.compilerVersion || JSON.stringify(m.attention) === JSON.stringify(kept.attention));
    if (m && m.source === plan.source && sameVariant) rmSync(full, { recursive: true, force: true });
  }
}
