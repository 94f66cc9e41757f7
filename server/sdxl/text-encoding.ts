// SDXL prompt encoding, as diffusers' StableDiffusionXL*Pipeline.encode_prompt:
// embeds = concat(te1 hidden_states[-2], te2 hidden_states[-2]) on the last axis,
// pooled = te2 text_embeds; same prompt to both encoders unless prompt_2 is given;
// a missing negative with force_zeros_for_empty_prompt -> zeros, "" is encoded.
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelStore } from '../models/model-store.js';
import type { ModelRef } from '../models/refs.js';
import { inputMeta, numericInput, outputF32 } from '../models/ort-io.js';
import type { Conditioning, SizeConditioning } from './types.js';

export interface EncodedPrompt {
  embeds: Float32Array;
  pooled: Float32Array;
  seqLen: number;
  dim: number;
  pooledDim: number;
  /** Ids fed to each encoder (for golden checks and token counting). */
  ids: number[];
  ids2: number[];
  /** Content tokens beyond 75 were dropped (CLIP's context is 77 with bos/eos). */
  truncated: boolean;
}

/** Output names of the hidden states, highest index = last layer (before the final LayerNorm). */
function hiddenStateName(session: InferenceSession, clipSkip: number): string {
  const indices = session.outputNames
    .map((n) => /^hidden_states\.(\d+)$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
  if (!indices.length) throw new Error(`text encoder has no hidden_states.* outputs (outputs: ${session.outputNames.join(', ')})`);
  // diffusers: hidden_states[-(clip_skip + 2)]; hidden_states has max+1 entries.
  const idx = Math.max(...indices) - 1 - clipSkip;
  if (idx < 0) throw new Error(`clip_skip ${clipSkip} is larger than the encoder's depth`);
  return `hidden_states.${idx}`;
}

async function runEncoder(
  session: InferenceSession,
  ids: number[],
  clipSkip: number,
  pooledName?: string,
): Promise<{ hidden: Float32Array; dim: number; seqLen: number; pooled?: Float32Array }> {
  const hs = hiddenStateName(session, clipSkip);
  const meta = inputMeta(session, 'input_ids');
  const fetches = pooledName ? [hs, pooledName] : [hs];
  const out = await session.run({ input_ids: numericInput(meta, ids, [1, ids.length]) }, fetches);
  const t = out[hs]!;
  const dims = t.dims;
  return {
    hidden: outputF32(t, hs),
    seqLen: Number(dims[1]),
    dim: Number(dims[2]),
    ...(pooledName ? { pooled: outputF32(out[pooledName], pooledName) } : {}),
  };
}

/** Encodes one prompt pair (prompt to te1, prompt2 || prompt to te2, as diffusers' `prompt_2 or prompt`). */
export async function encodePrompt(
  store: ModelStore,
  clip: ModelRef,
  prompt: string,
  prompt2?: string | null,
  clipSkip = 0,
): Promise<EncodedPrompt> {
  const { tokenizer, tokenizer2 } = await store.getTokenizers(clip);
  // Textual inversion: a multi-vector token T becomes "T T_1 ..." (diffusers' maybe_convert_prompt).
  const enc1 = tokenizer.encode(tokenizer.expandAddedTokens(prompt));
  const enc2 = tokenizer2.encode(tokenizer2.expandAddedTokens(prompt2 || prompt));
  const ids = Array.from(enc1.ids);
  const ids2 = Array.from(enc2.ids);
  const te1 = await store.getSession(clip, 'text_encoder');
  const te2 = await store.getSession(clip, 'text_encoder_2');
  const pooledName = te2.outputNames.includes('text_embeds') ? 'text_embeds' : te2.outputNames[0]!;
  const a = await runEncoder(te1, ids, clipSkip);
  const b = await runEncoder(te2, ids2, clipSkip, pooledName);
  if (a.seqLen !== b.seqLen) throw new Error(`text encoders disagree on sequence length (${a.seqLen} vs ${b.seqLen})`);
  const dim = a.dim + b.dim;
  const embeds = new Float32Array(a.seqLen * dim);
  for (let s = 0; s < a.seqLen; s++) {
    embeds.set(a.hidden.subarray(s * a.dim, (s + 1) * a.dim), s * dim);
    embeds.set(b.hidden.subarray(s * b.dim, (s + 1) * b.dim), s * dim + a.dim);
  }
  return { embeds, pooled: b.pooled!, seqLen: a.seqLen, dim, pooledDim: b.pooled!.length, ids, ids2, truncated: enc1.truncated || enc2.truncated };
}

export interface EncodeTextOptions {
  prompt: string;
  prompt2?: string | null;
  /** null/undefined = "no negative prompt" (zeros when the model forces them). */
  negative?: string | null;
  negative2?: string | null;
  clipSkip?: number;
  size?: SizeConditioning;
}

export interface EncodedConditioning {
  positive: Conditioning;
  negative: Conditioning;
  positiveIds: { ids: number[]; ids2: number[] };
  negativeIds?: { ids: number[]; ids2: number[] };
  /** Which prompts lost tokens to the 77-token limit. */
  truncated: { positive: boolean; negative: boolean };
}

/**
 * Positive and negative conditioning as diffusers builds them. The negative is zeros when
 * `negative` is null/undefined and the model's force_zeros_for_empty_prompt is set;
 * otherwise `negative ?? ""` goes to te1 and `negative2 ?? negative` to te2.
 */
export async function encodeConditioning(store: ModelStore, clip: ModelRef, opts: EncodeTextOptions): Promise<EncodedConditioning> {
  const info = store.info(clip);
  const clipSkip = opts.clipSkip ?? 0;
  const pos = await encodePrompt(store, clip, opts.prompt, opts.prompt2, clipSkip);
  const base = { model: info.name, seqLen: pos.seqLen, dim: pos.dim, pooledDim: pos.pooledDim, ...(opts.size ? { size: opts.size } : {}) };
  const positive: Conditioning = { ...base, zeros: false, embeds: pos.embeds, pooled: pos.pooled };
  const zeroNegative = (opts.negative === null || opts.negative === undefined) && info.forceZerosForEmptyPrompt;
  if (zeroNegative) {
    return {
      positive,
      negative: { ...base, zeros: true, embeds: null, pooled: null },
      positiveIds: { ids: pos.ids, ids2: pos.ids2 },
      truncated: { positive: pos.truncated, negative: false },
    };
  }
  const negText = opts.negative ?? '';
  const neg = await encodePrompt(store, clip, negText, opts.negative2 || negText, clipSkip);
  return {
    positive,
    negative: { ...base, zeros: false, embeds: neg.embeds, pooled: neg.pooled },
    positiveIds: { ids: pos.ids, ids2: pos.ids2 },
    negativeIds: { ids: neg.ids, ids2: neg.ids2 },
    truncated: { positive: pos.truncated, negative: neg.truncated },
  };
}
