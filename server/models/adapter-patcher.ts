// The SessionPool's ComponentPatcher for LoRAs and textual-inversion embeddings: builds the
// UNet / text-encoder sessions of a ModelRef with merged weights, and adds embedding tokens
// to the tokenizers. Also what the apply-lora / load-embeddings nodes use to resolve and
// check files at request time (so bad files fail at the node that names them).
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FileStore } from '../engine/context.js';
import { NodeError } from '../engine/errors.js';
import type { Logger } from '../log.js';
import type { Component } from './catalog.js';
import type { ComponentPatcher, ComponentSource, BaseComponent } from './sessions.js';
import type { EmbeddingRef, LoraRef, ModelRef } from './refs.js';
import { loadOnnxModel, type OnnxModel } from './onnx-graph.js';
import { initializerUse, moduleWeights, type ModuleWeight } from './onnx-modules.js';
import { patchOnnxModel, type TensorReplacement } from './onnx-patch.js';
import { SafetensorsFile } from './safetensors.js';
import { assertLoraMatches, planLora, type ComponentModules, type LoraPlan } from './lora.js';
import { mergeLoras, type LoraApplication, type MergeStats } from './merge.js';
import { jsKernel, OrtMergeKernel, type MergeKernel } from './merge-kernel.js';
import { appendEmbeddingRows, loadEmbedding, tokenEmbeddingShape, type LoadedEmbedding, type TextEncoder } from './embeddings.js';
import { ModelSources, type ResolvedSource } from './model-sources.js';
import { LORA_COMPONENTS, type LoraComponent } from './lora-keys.js';

interface ComponentInfo {
  modules: Map<string, ModuleWeight>;
  use: Map<string, number>;
  /** [vocab rows, width] of a text encoder's token-embedding table. */
  tokenTable?: [number, number];
}

interface TokenizerLike {
  addTokens(tokens: readonly string[]): number[];
  tokenToId(token: string): number | undefined;
  readonly vocabSize: number;
}

export interface BuildReport {
  component: Component;
  layers: number;
  tensors: number;
  embeddingRows: number;
  skippedShared: string[];
  ms: number;
  mode: 'memory' | 'disk';
}

const PATCH_FILE = 'maskflow-lora-patch.bin';
const isLoraComponent = (c: Component): c is LoraComponent => (LORA_COMPONENTS as readonly string[]).includes(c);

export class AdapterPatcher implements ComponentPatcher {
  private readonly infos = new Map<string, Promise<ComponentInfo>>();
  private readonly embeddingMemo = new Map<string, Promise<LoadedEmbedding>>();
  private kernel?: Promise<MergeKernel>;
  /** Every build, most recent last (tests, bench, logs). */
  readonly builds: BuildReport[] = [];

  constructor(
    readonly sources: ModelSources,
    private readonly opts: {
      /** <dataDir>/cache: merged models of external-data models go to <cacheDir>/merged. */
      cacheDir: string;
      /** Folder of a model by (resolved) name: the store's catalog. */
      modelDir: (name: string) => string;
      /** Merged folders of external-data models kept on disk (oldest removed first; default 4). */
      maxMergedDirs?: number;
      /** 'ort' (default): matmul and casts on ORT's CPU kernels; 'js': plain JS. */
      kernel?: 'ort' | 'js';
      /** ORT threads of the merge kernel (0 = all cores). */
      threads?: number;
      logger?: Logger;
    },
  ) {}

  // ── node-facing helpers ──────────────────────────────────────────────────

  /** Module maps of a model folder's UNet and text encoders (parsed once per file). */
  async componentModules(modelDir: string): Promise<ComponentModules> {
    const out = {} as ComponentModules;
    for (const c of LORA_COMPONENTS) out[c] = (await this.componentInfo(path.join(modelDir, c, 'model.onnx'))).modules;
    return out;
  }

  /** Resolves a LoRA and matches it against a model; throws when it matches nothing. */
  async inspectLora(modelDir: string, source: string, opts: { files?: FileStore; signal?: AbortSignal } = {}): Promise<{ resolved: ResolvedSource; plan: LoraPlan }> {
    const resolved = await this.sources.resolve('lora', source, opts);
    const file = await SafetensorsFile.open(resolved.path, resolved.name);
    try {
      const plan = planLora(file, resolved.name, await this.componentModules(modelDir));
      assertLoraMatches(plan);
      return { resolved, plan };
    } finally {
      await file.close();
    }
  }

  /** Resolves and loads an embedding for a model; returns its tokens. */
  async inspectEmbedding(modelDir: string, source: string, naming: { token?: string; tokens?: string[] }, opts: { files?: FileStore; signal?: AbortSignal } = {}) {
    const resolved = await this.sources.resolve('embedding', source, { ...opts, param: 'embeddings' });
    const emb = await this.embedding(modelDir, resolved, naming);
    return { resolved, embedding: emb, tokens: emb.tokens };
  }

  // ── ComponentPatcher ─────────────────────────────────────────────────────

  variantKey(ref: ModelRef, component: Component): string {
    if (!isLoraComponent(component)) return '';
    const unet = component === 'unet';
    const loras = ref.loras.filter((l) => (unet ? l.strengthModel : l.strengthClip) !== 0).map((l) => [l.sha256 ?? l.source, unet ? l.strengthModel : l.strengthClip]);
    const embeddings = unet ? [] : ref.embeddings.map((e) => [e.sha256 ?? e.source, e.token ?? '', e.tokens ?? []]);
    if (!loras.length && !embeddings.length) return '';
    return createHash('sha256').update(JSON.stringify({ loras, embeddings })).digest('hex').slice(0, 24);
  }

  async build(ref: ModelRef, component: Component, base: BaseComponent): Promise<ComponentSource> {
    if (!isLoraComponent(component)) return { path: base.path };
    const t0 = performance.now();
    const model = await loadOnnxModel(base.path);
    const info = await this.componentInfo(base.path, model);
    const empty = new Map<string, ModuleWeight>();
    const modules = { unet: empty, text_encoder: empty, text_encoder_2: empty, [component]: info.modules } as ComponentModules;
    const apps: LoraApplication[] = [];
    const stats: MergeStats = { layers: 0, tensors: 0, skippedShared: [] };
    try {
      for (const l of ref.loras) {
        const strength = component === 'unet' ? l.strengthModel : l.strengthClip;
        if (strength === 0) continue;
        const r = await this.localLora(l);
        const file = await SafetensorsFile.open(r.path, r.name);
        apps.push({ file, plan: planLora(file, r.name, modules), strength });
      }
      const embeddings = component === 'unet' ? [] : await Promise.all(ref.embeddings.map((e) => this.refEmbedding(base.info.dir, e)));
      const merged = mergeLoras(model, component, apps, stats, info.use, apps.length ? await this.mergeKernel() : jsKernel);
      const rows = component === 'unet' ? undefined : await appendEmbeddingRows(model, component as TextEncoder, embeddings);
      const onDisk = [...model.initializers.values()].some((t) => t.external);
      const key = createHash('sha256').update(`${base.path}\n${this.variantKey(ref, component)}`).digest('hex').slice(0, 32);
      const src = onDisk ? await this.materialize(model, merged, rows, key) : await this.inMemory(model, merged, rows);
      const report: BuildReport = {
        component,
        layers: stats.layers,
        tensors: stats.tensors,
        embeddingRows: rows ? rows[1].dims[0]! - info.tokenTable![0] : 0,
        skippedShared: stats.skippedShared,
        ms: performance.now() - t0,
        mode: onDisk ? 'disk' : 'memory',
      };
      this.builds.push(report);
      if (this.builds.length > 100) this.builds.shift();
      this.opts.logger?.info({ model: base.info.name, ...report, ms: Math.round(report.ms) }, 'patched model built');
      if (stats.skippedShared.length) this.opts.logger?.warn({ initializers: stats.skippedShared }, 'LoRA layers skipped: their weight is shared by several modules');
      return src;
    } finally {
      await Promise.all(apps.map((a) => a.file.close()));
    }
  }

  async extendTokenizers(ref: ModelRef, toks: { tokenizer: unknown; tokenizer2: unknown }): Promise<void> {
    if (!ref.embeddings.length) return;
    const dir = this.opts.modelDir(ref.model);
    const pairs: [TextEncoder, TokenizerLike][] = [
      ['text_encoder', toks.tokenizer as TokenizerLike],
      ['text_encoder_2', toks.tokenizer2 as TokenizerLike],
    ];
    const tables = await Promise.all(pairs.map(([e]) => this.componentInfo(path.join(dir, e, 'model.onnx')).then((i) => i.tokenTable!)));
    pairs.forEach(([e, tok], i) => {
      if (tok.vocabSize !== tables[i]![0])
        throw new NodeError('model_invalid', `tokenizer of ${e} has ${tok.vocabSize} tokens but the encoder's embedding table has ${tables[i]![0]} rows`);
    });
    for (const e of ref.embeddings) {
      const emb = await this.refEmbedding(dir, e);
      const tokens = emb.tokens;
      for (const [enc, tok] of pairs) {
        if (!emb.vectors[enc]) continue;
        const clash = tokens.find((t) => tok.tokenToId(t) !== undefined);
        if (clash) throw new NodeError('embedding_token_exists', `token "${clash}" of embedding "${emb.name}" is already in the vocabulary; give the embedding another token`, { param: 'embeddings' });
        tok.addTokens(tokens);
      }
    }
  }

  // ── internals ────────────────────────────────────────────────────────────

  private mergeKernel(): Promise<MergeKernel> {
    if (this.opts.kernel === 'js') return Promise.resolve(jsKernel);
    this.kernel ??= OrtMergeKernel.create(this.opts.threads ?? 0);
    return this.kernel;
  }

  private componentInfo(file: string, loaded?: OnnxModel): Promise<ComponentInfo> {
    let p = this.infos.get(file);
    if (!p) {
      p = (async () => {
        const model = loaded ?? (await loadOnnxModel(file));
        const modules = moduleWeights(model);
        const info: ComponentInfo = { modules, use: initializerUse(modules) };
        if (/text_encoder/.test(path.basename(path.dirname(file)))) info.tokenTable = await tokenEmbeddingShape(model);
        return info;
      })();
      this.infos.set(file, p);
      p.catch(() => this.infos.delete(file));
    }
    return p;
  }

  private async localLora(l: LoraRef): Promise<ResolvedSource> {
    const known = this.sources.pathOf(l.sha256);
    if (known) return { path: known, sha256: l.sha256!, name: l.source, origin: 'cache' };
    return this.sources.resolve('lora', l.source);
  }

  private async refEmbedding(modelDir: string, e: EmbeddingRef): Promise<LoadedEmbedding> {
    const known = this.sources.pathOf(e.sha256);
    const resolved = known ? { path: known, sha256: e.sha256!, name: e.source, origin: 'cache' as const } : await this.sources.resolve('embedding', e.source, { param: 'embeddings' });
    return this.embedding(modelDir, resolved, { token: e.token, tokens: e.tokens });
  }

  private embedding(modelDir: string, r: ResolvedSource, naming: { token?: string; tokens?: string[] }): Promise<LoadedEmbedding> {
    const key = JSON.stringify([modelDir, r.sha256, naming.token ?? '', naming.tokens ?? []]);
    let p = this.embeddingMemo.get(key);
    if (!p) {
      p = (async () => {
        const [te1, te2] = await Promise.all((['text_encoder', 'text_encoder_2'] as const).map((e) => this.componentInfo(path.join(modelDir, e, 'model.onnx'))));
        const file = await SafetensorsFile.open(r.path, r.name);
        try {
          return await loadEmbedding(file, r.name, naming, { text_encoder: te1!.tokenTable![1], text_encoder_2: te2!.tokenTable![1] });
        } finally {
          await file.close();
        }
      })();
      this.embeddingMemo.set(key, p);
      p.catch(() => this.embeddingMemo.delete(key));
    }
    return p;
  }

  /**
   * Keeps the newest merged folders. Removing one a live session was created from is safe:
   * ORT has read (or mapped) the files, and the original weights are hard links.
   */
  private async pruneMerged(root: string, keep: string): Promise<void> {
    const max = this.opts.maxMergedDirs ?? 4;
    const dirs = await Promise.all(
      (await readdir(root, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && !e.name.includes('.tmp-'))
        .map(async (e) => ({ p: path.join(root, e.name), t: (await stat(path.join(root, e.name))).mtimeMs })),
    );
    dirs.sort((a, b) => b.t - a.t);
    for (const d of dirs.slice(max)) if (d.p !== keep) await rm(d.p, { recursive: true, force: true });
  }

  /** Weights inline in the .onnx: merged tensors go to ORT as in-memory external data. */
  private async inMemory(model: OnnxModel, merged: AsyncIterable<[string, TensorReplacement]>, rows: [string, TensorReplacement] | undefined): Promise<ComponentSource> {
    const replacements = new Map<string, TensorReplacement>();
    for await (const [n, r] of merged) replacements.set(n, r);
    if (rows) replacements.set(rows[0], rows[1]);
    const patched = patchOnnxModel(model, replacements, { mode: 'external' });
    return { bytes: patched.modelBytes, externalData: patched.externalData, sizeBytes: patched.byteLength };
  }

  /**
   * Weights in external files (models over 2 GB): ORT accepts in-memory external data only
   * when *every* external initializer comes from memory, and refuses paths outside the model
   * folder (symlinks included). So a folder is written: the rewritten graph, one file of
   * merged tensors (streamed, one tensor in memory at a time) and hard links to the original
   * weight files (a copy when links are impossible across file systems).
   */
  private async materialize(model: OnnxModel, merged: AsyncIterable<[string, TensorReplacement]>, rows: [string, TensorReplacement] | undefined, key: string): Promise<ComponentSource> {
    const root = path.join(this.opts.cacheDir, 'merged');
    const dir = path.join(root, key);
    const modelFile = path.join(dir, 'model.onnx');
    try {
      await stat(modelFile);
      return { path: modelFile };
    } catch {
      /* build it */
    }
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    await mkdir(tmp, { recursive: true });
    try {
      const replacements = new Map<string, TensorReplacement>();
      const fh = await open(path.join(tmp, PATCH_FILE), 'w');
      let offset = 0;
      const put = async (name: string, r: TensorReplacement) => {
        await fh.write(r.data!, 0, r.data!.byteLength, offset);
        replacements.set(name, { dims: r.dims, dataType: r.dataType, external: { location: PATCH_FILE, offset, length: r.data!.byteLength } });
        offset += Math.ceil(r.data!.byteLength / 64) * 64;
      };
      try {
        for await (const [n, r] of merged) await put(n, r);
        if (rows) await put(rows[0], rows[1]);
      } finally {
        await fh.close();
      }
      const locations = new Set<string>();
      for (const t of model.initializers.values()) if (t.external && !replacements.has(t.name)) locations.add(t.external.location);
      for (const loc of locations) {
        const from = path.resolve(model.dir, loc);
        const to = path.resolve(tmp, loc);
        if (!to.startsWith(tmp + path.sep)) throw new NodeError('model_invalid', `external data location ${loc} leaves the model folder`);
        await mkdir(path.dirname(to), { recursive: true });
        await link(from, to).catch(() => copyFile(from, to));
      }
      await writeFile(path.join(tmp, 'model.onnx'), patchOnnxModel(model, replacements, { mode: 'inline' }).modelBytes);
      await rename(tmp, dir).catch(async (err) => {
        // Another worker built the same folder meanwhile: use theirs.
        await stat(modelFile).catch(() => Promise.reject(err));
        await rm(tmp, { recursive: true, force: true });
      });
      await this.pruneMerged(root, dir);
      return { path: modelFile };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
}
