// What the prompt/expand node does, as a library function (engine-free, testable).
import { PromptExpander, PromptExpansionError, type Expansion } from './expander.js';
import type { TokenCounter } from './token-limit.js';

export interface ExpandReport {
  /** The prompt the pipeline encodes (expanded, or the original when not expanded). */
  prompt: string;
  expanded: boolean;
  /** Same as `prompt`, present only when expanded (the key the REST facade reads). */
  expanded_prompt?: string;
  original_prompt?: string;
  /** The answer was cut to CLIP's 75 tokens. */
  truncated?: boolean;
  /** CLIP tokens of `prompt` (when a tokenizer was available). */
  tokens?: number;
  expansion_model?: string;
  expansion_ms?: number;
  /** Why an enabled expansion did not change the prompt. */
  expansion_skipped?: 'empty_prompt';
  /** on_error "original": the failure that made us keep the original prompt. */
  expansion_error?: { code: string; message: string };
}

export class ExpansionUnavailableError extends Error {
  readonly code = 'prompt_expansion_unavailable';
}

export interface RunExpandOptions {
  enabled: boolean;
  deterministic: boolean;
  seed: number;
  onError: 'fail' | 'original';
  signal?: AbortSignal;
  countTokens?: TokenCounter;
}

export async function runExpand(expander: PromptExpander | undefined, prompt: string, opts: RunExpandOptions): Promise<ExpandReport> {
  if (!opts.enabled) return { prompt, expanded: false };
  if (!expander) {
    throw new ExpansionUnavailableError('prompt expansion was requested but no prompt expander is configured (MASKFLOW_PROMPT_EXPANDER_URL)');
  }
  // Expanding nothing would invent a subject.
  if (!prompt.trim()) return { prompt, expanded: false, expansion_skipped: 'empty_prompt' };
  let r: Expansion;
  try {
    r = await expander.expand(prompt, { deterministic: opts.deterministic, seed: opts.seed, signal: opts.signal, countTokens: opts.countTokens });
  } catch (err) {
    if (opts.onError === 'original' && err instanceof PromptExpansionError) {
      return { prompt, expanded: false, expansion_error: { code: err.code, message: err.message } };
    }
    throw err;
  }
  return {
    prompt: r.prompt,
    expanded: true,
    expanded_prompt: r.prompt,
    original_prompt: prompt,
    truncated: r.truncated,
    ...(r.tokens !== undefined ? { tokens: r.tokens } : {}),
    expansion_model: r.model,
    expansion_ms: Math.round(r.ms),
  };
}
