// What the models/apply-lora and models/load-embeddings nodes do: resolve each file (name,
// upload id or URL), check it against the model (a LoRA that matches nothing, an embedding
// of the wrong width fail here, naming the file), log what applies, and return refs that
// carry the files' content hashes. The merge itself happens when a session is needed.
import { NodeError } from '../engine/errors.js';
import type { FileStore, LogLevel } from '../engine/context.js';
import type { AdapterPatcher } from './adapter-patcher.js';
import type { ModelStore } from './model-store.js';
import type { EmbeddingRef, LoraRef, ModelRef } from './refs.js';
import { summarizePlan } from './lora.js';

export interface AdapterNodeContext {
  adapters: AdapterPatcher;
  models: ModelStore;
  files?: FileStore;
  signal?: AbortSignal;
  log?: (level: LogLevel, msg: string, data?: Record<string, unknown>) => void;
}

export interface LoraRequest {
  source: string;
  strengthModel: number;
  strengthClip: number;
  /** Param the source came from (errors name it). */
  param: string;
}

function withParam<T>(param: string, p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof NodeError && (err.details.param === undefined || err.details.param !== param)) {
      throw new NodeError(err.code, err.message, { ...err.details, param });
    }
    throw err;
  });
}

/** Adds LoRAs to a UNET ref and a CLIP ref. */
export async function applyLoras(unet: ModelRef, clip: ModelRef, requests: LoraRequest[], c: AdapterNodeContext): Promise<{ unet: ModelRef; clip: ModelRef }> {
  const outUnet: ModelRef = { ...unet, loras: [...unet.loras] };
  const outClip: ModelRef = { ...clip, loras: [...clip.loras] };
  for (const r of requests) {
    if (!Number.isFinite(r.strengthModel) || !Number.isFinite(r.strengthClip)) throw new NodeError('invalid_param', 'LoRA strengths must be finite numbers', { param: r.param });
    const dirs = new Set([c.models.info(unet).dir, c.models.info(clip).dir]);
    let ref: LoraRef | undefined;
    for (const dir of dirs) {
      const { resolved, plan } = await withParam(r.param, c.adapters.inspectLora(dir, r.source, { files: c.files, signal: c.signal }));
      c.log?.('info', `LoRA ${summarizePlan(plan)}`, {
        sha256: resolved.sha256,
        perComponent: plan.perComponent,
        unmatched: plan.unmatched.slice(0, 100),
      });
      ref = { source: r.source, sha256: resolved.sha256, strengthModel: r.strengthModel, strengthClip: r.strengthClip };
    }
    outUnet.loras.push(ref!);
    outClip.loras.push(ref!);
  }
  return { unet: outUnet, clip: outClip };
}

/** Adds textual-inversion embeddings to a CLIP ref. */
export async function addEmbeddings(clip: ModelRef, entries: { path: string; token?: string; tokens?: string[] }[], c: AdapterNodeContext): Promise<ModelRef> {
  const out: ModelRef = { ...clip, embeddings: [...clip.embeddings] };
  const dir = c.models.info(clip).dir;
  const seen = new Map<string, string>();
  for (const e of clip.embeddings) {
    const { tokens } = await c.adapters.inspectEmbedding(dir, e.source, { token: e.token, tokens: e.tokens }, { files: c.files });
    for (const t of tokens) seen.set(t, e.source);
  }
  for (const entry of entries) {
    const naming = { token: entry.token, tokens: entry.tokens };
    const { resolved, embedding, tokens } = await withParam('embeddings', c.adapters.inspectEmbedding(dir, entry.path, naming, { files: c.files, signal: c.signal }));
    for (const t of tokens) {
      const prev = seen.get(t);
      if (prev !== undefined) throw new NodeError('embedding_token_exists', `embeddings "${prev}" and "${entry.path}" both use the token "${t}"`, { param: 'embeddings' });
      seen.set(t, entry.path);
    }
    c.log?.('info', `embedding ${resolved.name}: token ${embedding.token} = ${tokens.length} vectors (${Object.keys(embedding.vectors).join(', ')})`, { sha256: resolved.sha256, tokens });
    const ref: EmbeddingRef = { source: entry.path, sha256: resolved.sha256, token: embedding.token, ...(entry.tokens && entry.tokens.length > 1 ? { tokens } : {}) };
    out.embeddings.push(ref);
  }
  return out;
}
