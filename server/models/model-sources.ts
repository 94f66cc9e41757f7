// Where LoRA and embedding files come from: a name in <modelsDir>/loras or
// <modelsDir>/embeddings, an uploaded file id, or an http(s) URL fetched with the SSRF-safe
// fetcher and kept under <dataDir>/cache/<kind>/<sha256>.safetensors, so the second request
// for the same URL reads the cache. Every resolved file is known by its content hash, which
// enters session keys and cache keys.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NodeError } from '../engine/errors.js';
import type { FileStore } from '../engine/context.js';
import { assertPublicUrl, safeFetch, type Resolver } from '../image/fetch.js';
import { sha256OfFile } from '../storage/file-hash.js';

export type SourceKind = 'lora' | 'embedding' | 'controlnet';

export interface ResolvedSource {
  /** Local file to read. */
  path: string;
  sha256: string;
  /** Human name for logs and errors (file name or URL). */
  name: string;
  origin: 'models' | 'upload' | 'url' | 'cache';
}

export interface ModelSourcesOptions {
  modelsDir: string;
  /** <dataDir>/cache */
  cacheDir: string;
  urlAllowlist: readonly string[];
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  /** DNS resolver for the fetcher (tests). */
  resolve?: Resolver;
}

const FOLDERS: Record<SourceKind, ModelSubfolder> = { lora: 'loras', embedding: 'embeddings', controlnet: 'controlnet' };
const LABELS: Record<SourceKind, string> = { lora: 'LoRA', embedding: 'embedding', controlnet: 'ControlNet' };

/** A file named (with or without .safetensors) under <modelsDir>/<folder>; never outside it. */
export type ModelSubfolder = 'loras' | 'embeddings' | 'controlnet';

export async function findInModelsDir(modelsDir: string, folder: ModelSubfolder, name: string): Promise<string | undefined> {
  const root = path.resolve(modelsDir, folder);
  for (const candidate of [name, `${name}.safetensors`]) {
    const p = path.resolve(root, candidate);
    if (!p.startsWith(root + path.sep)) continue;
    try {
      if ((await stat(p)).isFile()) return p;
    } catch {
      /* next candidate */
    }
  }
  return undefined;
}
const UPLOAD_ID = /^[A-Za-z0-9_-]{16,64}$/;
const UPLOAD_REF = /^(?:upload:|\/v1\/files\/)([A-Za-z0-9_-]{1,128})(?:\.[a-z0-9]+)?$/;

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

export class ModelSources {
  /** sha256 -> local path of every file resolved in this process. */
  private readonly byHash = new Map<string, string>();
  private readonly hashMemo = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  /** URLs being fetched, so concurrent requests share one download. */
  private readonly inflight = new Map<string, Promise<ResolvedSource>>();
  fetches = 0;

  constructor(readonly options: ModelSourcesOptions) {}

  /** Resolves a source string; `files` resolves upload ids. Errors name the param. */
  async resolve(kind: SourceKind, source: string, opts: { files?: FileStore; signal?: AbortSignal; param?: string } = {}): Promise<ResolvedSource> {
    const param = opts.param ?? (kind === 'embedding' ? 'embeddings' : kind);
    const src = source.trim();
    if (!src) throw new NodeError('invalid_param', `empty ${kind} source`, { param });
    if (isUrl(src)) {
      let p = this.inflight.get(src);
      if (!p) {
        p = this.fromUrl(kind, src, opts.signal).finally(() => this.inflight.delete(src));
        this.inflight.set(src, p);
      }
      return p;
    }
    // `upload:<id>` is how the REST API hands over uploads and data URIs (also /v1/files/<id>); a bare id works too.
    const uploadId = UPLOAD_REF.exec(src)?.[1];
    const local = uploadId === undefined ? await this.fromModelsDir(kind, src, param) : undefined;
    if (local) return this.remember({ ...local, sha256: await this.hashFile(local.path) });
    const id = uploadId ?? src;
    if (UPLOAD_ID.test(id) && opts.files) {
      const p = await opts.files.pathOf(id);
      if (p) return this.remember({ path: p, name: src, origin: 'upload', sha256: await this.hashFile(p) });
    }
    throw new NodeError(`${kind}_not_found`, `${LABELS[kind]} "${src}" not found: not a file in ${path.join(this.options.modelsDir, FOLDERS[kind])}, an uploaded file id or an http(s) URL`, { param });
  }

  /**
   * Cheap identity of a source for node cache keys: size and mtime of a models-folder file
   * (so a replaced file is picked up), the string itself for URLs and uploads (immutable).
   */
  async fingerprint(kind: SourceKind, source: string): Promise<string> {
    const src = source.trim();
    if (!src || isUrl(src) || UPLOAD_REF.test(src)) return src;
    try {
      const local = await this.fromModelsDir(kind, src, 'source');
      if (local) {
        const s = await stat(local.path);
        return `${src}@${s.size}:${s.mtimeMs}`;
      }
    } catch {
      /* invalid names fail in execute with a proper error */
    }
    return src;
  }

  /** Registers a local file outside the folders (golden replay, CLI): hashed and known by its hash. */
  async registerFile(p: string, name = path.basename(p)): Promise<ResolvedSource> {
    return this.remember({ path: path.resolve(p), name, origin: 'models', sha256: await this.hashFile(p) });
  }

  /** Local path of a file resolved before (by content hash), if still present. */
  pathOf(sha256: string | undefined): string | undefined {
    return sha256 ? this.byHash.get(sha256) : undefined;
  }

  private remember(r: ResolvedSource): ResolvedSource {
    this.byHash.set(r.sha256, r.path);
    return r;
  }

  private async fromModelsDir(kind: SourceKind, name: string, param: string): Promise<Omit<ResolvedSource, 'sha256'> | undefined> {
    if (path.isAbsolute(name) || name.split(/[\\/]/).includes('..'))
      throw new NodeError('invalid_param', `${kind} name "${name}" must be a file name inside the ${FOLDERS[kind]} folder`, { param });
    const p = await findInModelsDir(this.options.modelsDir, FOLDERS[kind], name);
    return p ? { path: p, name: path.relative(path.resolve(this.options.modelsDir, FOLDERS[kind]), p), origin: 'models' } : undefined;
  }

  private async fromUrl(kind: SourceKind, url: string, signal?: AbortSignal): Promise<ResolvedSource> {
    const dir = path.join(this.options.cacheDir, FOLDERS[kind]);
    const urlKey = createHash('sha256').update(url).digest('hex');
    const memo = path.join(dir, `url-${urlKey}.json`);
    const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'download');
    // The address policy applies to cached URLs too, so a URL is refused or admitted the same way every time.
    await assertPublicUrl(url, this.options.urlAllowlist, this.options.resolve);
    try {
      const { sha256 } = JSON.parse(await readFile(memo, 'utf8')) as { sha256: string };
      const p = path.join(dir, `${sha256}.safetensors`);
      await stat(p);
      return this.remember({ path: p, sha256, name, origin: 'cache' });
    } catch {
      /* not cached yet */
    }
    this.fetches++;
    // Streamed to a temporary file while hashing: a LoRA may be gigabytes, never held in memory.
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `download-${urlKey}.${process.pid}.${Date.now()}.tmp`);
    const hash = createHash('sha256');
    const file = await open(tmp, 'w');
    try {
      await safeFetch(url, {
        allowlist: this.options.urlAllowlist,
        maxBytes: this.options.maxBytes,
        timeoutMs: this.options.timeoutMs,
        maxRedirects: this.options.maxRedirects,
        signal,
        ...(this.options.resolve ? { resolve: this.options.resolve } : {}),
        onData: async (chunk) => {
          hash.update(chunk);
          await file.write(chunk);
        },
      });
    } catch (err) {
      await file.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await file.close();
    const sha256 = hash.digest('hex');
    const p = path.join(dir, `${sha256}.safetensors`);
    await rename(tmp, p);
    await writeFile(memo, JSON.stringify({ url, sha256 }));
    return this.remember({ path: p, sha256, name, origin: 'url' });
  }

  /** sha256 of a file, memoised by (path, size, mtime). */
  async hashFile(p: string): Promise<string> {
    const s = await stat(p);
    const m = this.hashMemo.get(p);
    if (m && m.size === s.size && m.mtimeMs === s.mtimeMs) return m.sha256;
    const sha256 = await sha256OfFile(p);
    this.hashMemo.set(p, { size: s.size, mtimeMs: s.mtimeMs, sha256 });
    return sha256;
  }
}
