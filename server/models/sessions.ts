// ORT session pool of a worker: sessions are created once and reused across jobs, evicted
// least-recently-used when the bytes of weights they hold exceed the bound.
//
// ── Patching hook (LoRA / textual inversion) ───────────────────────────────────────────
// A session is keyed by (model folder, component, variant key). The plain files have the
// variant key ''. When a ModelRef carries LoRAs or embeddings, the registered
// ComponentPatcher decides:
//   variantKey(ref, component)  -> '' when nothing applies to this component (the plain
//                                  session is shared), else a stable key such as a hash of
//                                  (LoRA sha256s, strengths, embedding sha256s). Must be cheap.
//   build(ref, component, base) -> a ComponentSource: a file path, or model bytes plus
//                                  `externalData` [{path, data}] (the merged initializers);
//                                  called only on a cache miss. `sizeBytes` feeds the LRU.
//   extendTokenizers?(ref, toks) -> adds embedding tokens (tokenizer.addTokens) to fresh
//                                  tokenizer instances; they are cached per (model, variant
//                                  key of text_encoder), so the plain tokenizers stay clean.
// ModelStore.setPatcher(p) registers it (one per worker; the last call wins).
// ───────────────────────────────────────────────────────────────────────────────────────
import ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import type { Logger } from '../log.js';
import type { Component, ModelInfo } from './catalog.js';
import { sessionOptionsFor, type ExecutionProvider, type InferenceOptions } from './inference-options.js';
import type { ModelRef } from './refs.js';

export interface ComponentSource {
  /** Load from a file; ORT finds external data files next to it. */
  path?: string;
  /** Or from bytes; external data referenced by the model is supplied here by relative path. */
  bytes?: Uint8Array;
  externalData?: { path: string; data: Uint8Array }[];
  /** Bytes the session holds, for the LRU bound (default: the component's files on disk). */
  sizeBytes?: number;
}

export interface BaseComponent {
  info: ModelInfo;
  component: Component;
  /** Path of the plain model.onnx. */
  path: string;
}

export interface ComponentPatcher {
  variantKey(ref: ModelRef, component: Component): string;
  build(ref: ModelRef, component: Component, base: BaseComponent): Promise<ComponentSource>;
  extendTokenizers?(ref: ModelRef, tokenizers: { tokenizer: unknown; tokenizer2: unknown }): Promise<void>;
}

interface Entry {
  session: Promise<InferenceSession>;
  bytes: number;
  /** Time spent creating the session, for logs and the bench. */
  loadMs?: number;
}

export interface PoolStats {
  requestedEp: ExecutionProvider;
  effectiveEp: ExecutionProvider;
  fallbackReason?: string;
  sessions: { key: string; bytes: number }[];
  bytes: number;
  maxBytes: number;
  loads: number;
  hits: number;
}

export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  private effectiveEp: ExecutionProvider;
  private fallbackReason?: string;
  loads = 0;
  hits = 0;

  constructor(
    private readonly options: InferenceOptions,
    readonly maxBytes: number,
    private readonly logger?: Logger,
  ) {
    this.effectiveEp = options.ep;
  }

  static key(model: string, component: Component, variant: string): string {
    return `${model}/${component}${variant ? `#${variant}` : ''}`;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The pooled session for key, created from source() on a miss. */
  async get(key: string, source: () => Promise<ComponentSource>, defaultBytes: number): Promise<InferenceSession> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return hit.session;
    }
    const entry: Entry = { session: Promise.resolve(undefined as unknown as InferenceSession), bytes: 0 };
    entry.session = (async () => {
      const src = await source();
      entry.bytes = src.sizeBytes ?? defaultBytes;
      this.used += entry.bytes;
      const t0 = performance.now();
      const session = await this.create(src, key);
      entry.loadMs = performance.now() - t0;
      this.loads++;
      this.logger?.info({ session: key, ms: Math.round(entry.loadMs), mb: Math.round(entry.bytes / 2 ** 20), ep: this.effectiveEp }, 'ORT session loaded');
      this.evict(key);
      return session;
    })();
    this.entries.set(key, entry);
    try {
      return await entry.session;
    } catch (err) {
      if (this.entries.get(key) === entry) {
        this.entries.delete(key);
        this.used -= entry.bytes;
      }
      throw err;
    }
  }

  private async create(src: ComponentSource, key: string): Promise<InferenceSession> {
    const attempt = (ep: ExecutionProvider) => {
      const opts: InferenceSession.SessionOptions = { ...sessionOptionsFor(this.options, ep), logId: key };
      if (src.path) return ort.InferenceSession.create(src.path, opts);
      if (!src.bytes) throw new Error(`no model path or bytes for ${key}`);
      return ort.InferenceSession.create(src.bytes, { ...opts, ...(src.externalData ? { externalData: src.externalData } : {}) });
    };
    if (this.effectiveEp === 'cuda') {
      try {
        return await attempt('cuda');
      } catch (err) {
        this.effectiveEp = 'cpu';
        this.fallbackReason = (err as Error).message;
        this.logger?.warn({ err: this.fallbackReason }, 'CUDA execution provider failed to load; falling back to CPU');
      }
    }
    return attempt('cpu');
  }

  /** Evicts least-recently-used sessions (never `keep`) until within the bound. */
  private evict(keep: string): void {
    for (const [k, e] of this.entries) {
      if (this.used <= this.maxBytes) break;
      if (k === keep) continue;
      this.drop(k, e);
    }
  }

  private drop(key: string, e: Entry): void {
    this.entries.delete(key);
    this.used -= e.bytes;
    void e.session.then((s) => s.release()).catch(() => {});
    this.logger?.debug({ session: key }, 'ORT session released');
  }

  /** Releases sessions whose key starts with prefix (e.g. `model/text_encoder`). */
  release(prefix: string): number {
    let n = 0;
    for (const [k, e] of [...this.entries]) {
      if (k.startsWith(prefix)) {
        this.drop(k, e);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.release('');
  }

  stats(): PoolStats {
    return {
      requestedEp: this.options.ep,
      effectiveEp: this.effectiveEp,
      ...(this.fallbackReason ? { fallbackReason: this.fallbackReason } : {}),
      sessions: [...this.entries].map(([key, e]) => ({ key, bytes: e.bytes })),
      bytes: this.used,
      maxBytes: this.maxBytes,
      loads: this.loads,
      hits: this.hits,
    };
  }
}
