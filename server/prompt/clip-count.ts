// CLIP token counting for the expansion limit: SDXL encodes the prompt with both tokenizers,
// which differ only in tokenizer_2 splitting every "!", so the larger count decides.
import type { TokenCounter } from './token-limit.js';

interface ContentEncoder {
  encodeContent(text: string): number[];
}

export function clipTokenCounter(toks: { tokenizer: ContentEncoder; tokenizer2: ContentEncoder }): TokenCounter {
  return (text) => Math.max(toks.tokenizer.encodeContent(text).length, toks.tokenizer2.encodeContent(text).length);
}
