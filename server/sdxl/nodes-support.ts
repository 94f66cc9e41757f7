// Thin glue between node params and the domain functions, kept out of the node files so
// the nodes stay declarative and the golden replay exercises the same functions.
import type { ModelStore } from '../models/model-store.js';
import type { ModelRef } from '../models/refs.js';
import { encodeConditioning } from './text-encoding.js';
import type { Conditioning, SizeConditioning } from './types.js';

export interface EncodeTextParams {
  prompt: string;
  prompt_2: string;
  negative_prompt: string;
  negative_prompt_2: string;
  zero_empty_negative: boolean;
  clip_skip: number;
  original_width: number;
  original_height: number;
  crop_top: number;
  crop_left: number;
  target_width: number;
  target_height: number;
}

export function sizeConditioning(p: EncodeTextParams): SizeConditioning | undefined {
  const size: SizeConditioning = {};
  // Only fully given sizes override; a 0 keeps the default (the output size).
  if (p.original_width && p.original_height) size.originalSize = [p.original_height, p.original_width];
  if (p.target_width && p.target_height) size.targetSize = [p.target_height, p.target_width];
  if (p.crop_top || p.crop_left) size.cropTopLeft = [p.crop_top, p.crop_left];
  return Object.keys(size).length ? size : undefined;
}

export async function encodeTextNode(
  store: ModelStore,
  clip: ModelRef,
  p: EncodeTextParams,
): Promise<{ positive: Conditioning; negative: Conditioning; truncated: { positive: boolean; negative: boolean } }> {
  const noNegative = p.zero_empty_negative && !p.negative_prompt && !p.negative_prompt_2;
  const size = sizeConditioning(p);
  const enc = await encodeConditioning(store, clip, {
    prompt: p.prompt,
    prompt2: p.prompt_2 || null,
    negative: noNegative ? null : p.negative_prompt,
    negative2: p.negative_prompt_2 || null,
    clipSkip: p.clip_skip,
    ...(size ? { size } : {}),
  });
  return { positive: enc.positive, negative: enc.negative, truncated: enc.truncated };
}
