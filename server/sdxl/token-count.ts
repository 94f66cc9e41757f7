/**
 * Token counting for a model folder (CLI `maskflow tokens <modelDir> <prompt>`).
 *
 *   countTokens(modelDir, prompt) -> { input_ids, input_ids_2, num_tokens, truncated }
 *
 * Tokenises with both SDXL tokenizers (`<modelDir>/tokenizer`, `<modelDir>/tokenizer_2`) exactly as
 * the pipeline does. `num_tokens` = content tokens (without bos/eos, before truncation to 75); the
 * two tokenizers agree except that tokenizer_2 splits every '!' into its own token, so the larger of
 * the two counts is reported, and `truncated` is true if either tokenizer had to truncate.
 */
import { join } from 'node:path';
import { ClipTokenizer } from './tokenizer.js';

export interface TokenCount {
  input_ids: number[];
  input_ids_2: number[];
  num_tokens: number;
  truncated: boolean;
}

export async function countTokens(modelDir: string, prompt: string): Promise<TokenCount> {
  const [tok1, tok2] = await Promise.all([
    ClipTokenizer.fromDir(join(modelDir, 'tokenizer')),
    ClipTokenizer.fromDir(join(modelDir, 'tokenizer_2')),
  ]);
  const a = tok1.encode(prompt);
  const b = tok2.encode(prompt);
  return {
    input_ids: a.ids,
    input_ids_2: b.ids,
    num_tokens: Math.max(a.numTokens, b.numTokens),
    truncated: a.truncated || b.truncated,
  };
}
