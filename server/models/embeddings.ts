// Textual-inversion embeddings: SDXL files (`clip_l` for text_encoder, `clip_g` for
// text_encoder_2) and single-encoder files (A1111 `emb_params` / `string_to_param.*`, diffusers
// `{token: tensor}`), assigned to an encoder by vector width. A token with N vectors becomes
// N tokens `T, T_1, ... T_{N-1}` (diffusers' convention); their rows are appended to the
// encoder's token-embedding initializer, in the order the tokens are added to the tokenizer.
import { NodeError } from '../engine/errors.js';
import type { SafetensorsFile } from './safetensors.js';
import type { OnnxModel } from './onnx-graph.js';
import { decodeFloat32, encodeFloat32, readInitializerBytes } from './onnx-graph.js';
import type { TensorReplacement } from './onnx-patch.js';

export type TextEncoder = 'text_encoder' | 'text_encoder_2';

export interface LoadedEmbedding {
  name: string;
  /** The first token (the one a prompt uses for a T, T_1 ... expansion). */
  token: string;
  /** One token per vector, in row order. */
  tokens: string[];
  /** Vectors per encoder: [count, width] row-major. */
  vectors: Partial<Record<TextEncoder, Float32Array>>;
  count: number;
}

/** Token strings an embedding occupies: T, T_1, ... */
export function embeddingTokens(token: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? token : `${token}_${i}`));
}

/** Default token: the file name without its extension. */
export function defaultToken(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base.replace(/\.(safetensors|pt|bin)$/i, '');
}

/** Reads an embedding file; `widths` are the hidden sizes of the model's two encoders. */
export async function loadEmbedding(
  file: SafetensorsFile,
  name: string,
  naming: { token?: string; tokens?: string[] },
  widths: Record<TextEncoder, number>,
): Promise<LoadedEmbedding> {
  const keys = file.keys();
  const vectors: LoadedEmbedding['vectors'] = {};
  let count = -1;
  const take = async (key: string, forced?: TextEncoder) => {
    const info = file.info(key);
    if (info.shape.length < 1 || info.shape.length > 2) throw new NodeError('invalid_embedding', `embedding "${name}": tensor ${key} has shape ${JSON.stringify(info.shape)}, expected [vectors, width]`, { param: 'embeddings' });
    const width = info.shape[info.shape.length - 1]!;
    const n = info.shape.length === 2 ? info.shape[0]! : 1;
    const targets = forced ? [forced] : (['text_encoder', 'text_encoder_2'] as const).filter((e) => widths[e] === width);
    if (!targets.length || (forced && widths[forced] !== width))
      throw new NodeError('embedding_mismatch', `embedding "${name}" has vectors of width ${width}; this model's text encoders take ${widths.text_encoder} and ${widths.text_encoder_2} (is it for another architecture?)`, { param: 'embeddings' });
    if (count !== -1 && n !== count) throw new NodeError('invalid_embedding', `embedding "${name}" has ${count} vectors for one encoder and ${n} for the other`, { param: 'embeddings' });
    count = n;
    const data = await file.readFloat32(key);
    for (const t of targets) vectors[t] = data;
  };
  if (keys.includes('clip_l') || keys.includes('clip_g')) {
    if (keys.includes('clip_l')) await take('clip_l', 'text_encoder');
    if (keys.includes('clip_g')) await take('clip_g', 'text_encoder_2');
  } else {
    const key = keys.find((k) => k === 'emb_params') ?? keys.find((k) => k.startsWith('string_to_param')) ?? (keys.length === 1 ? keys[0] : undefined);
    if (!key) throw new NodeError('invalid_embedding', `"${name}" is not a textual-inversion embedding (tensors: ${keys.slice(0, 5).join(', ')})`, { param: 'embeddings' });
    await take(key);
  }
  if (count < 1) throw new NodeError('invalid_embedding', `embedding "${name}" has no vectors`, { param: 'embeddings' });
  const given = (naming.tokens ?? []).map((t) => t.trim()).filter(Boolean);
  let tokens: string[];
  if (given.length > 1) {
    if (given.length !== count) throw new NodeError('invalid_param', `embedding "${name}" has ${count} vectors but ${given.length} tokens were given`, { param: 'embeddings' });
    if (new Set(given).size !== given.length) throw new NodeError('invalid_param', `embedding "${name}": tokens must be distinct`, { param: 'embeddings' });
    tokens = given;
  } else tokens = embeddingTokens(given[0] || naming.token?.trim() || defaultToken(name), count);
  return { name, token: tokens[0]!, tokens, vectors, count };
}

/** The token-embedding initializer of a CLIP text encoder (input 0 of the token Gather). */
export function tokenEmbeddingInitializer(model: OnnxModel): string {
  const gather = model.nodes.find((n) => n.opType === 'Gather' && /token_embedding/.test(n.name) && model.initializers.has(n.inputs[0] ?? ''));
  if (gather) return gather.inputs[0]!;
  const named = [...model.initializers.keys()].find((k) => k.endsWith('embeddings.token_embedding.weight'));
  if (named) return named;
  throw new NodeError('model_invalid', 'cannot find the token-embedding table of the text encoder');
}

export async function tokenEmbeddingShape(model: OnnxModel): Promise<[number, number]> {
  const t = model.initializers.get(tokenEmbeddingInitializer(model))!;
  return [t.dims[0]!, t.dims[1]!];
}

/** The token-embedding initializer with the embeddings' rows appended (in the given order). */
export async function appendEmbeddingRows(model: OnnxModel, encoder: TextEncoder, embeddings: LoadedEmbedding[]): Promise<[string, TensorReplacement] | undefined> {
  const rows = embeddings.filter((e) => e.vectors[encoder]);
  if (!rows.length) return undefined;
  const name = tokenEmbeddingInitializer(model);
  const t = model.initializers.get(name)!;
  const [vocab, width] = t.dims as [number, number];
  const added = rows.reduce((a, e) => a + e.count, 0);
  const table = new Float32Array((vocab + added) * width);
  table.set(decodeFloat32(await readInitializerBytes(model, t), t.dataType));
  let r = vocab;
  for (const e of rows) {
    table.set(e.vectors[encoder]!, r * width);
    r += e.count;
  }
  return [name, { dims: [vocab + added, width], dataType: t.dataType, data: encodeFloat32(table, t.dataType) }];
}
