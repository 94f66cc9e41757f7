// Prompt expansion through any OpenAI-compatible chat-completions endpoint (llama.cpp
// server, Ollama, vLLM, hosted providers). One request per expansion, bounded by a timeout
// that covers the whole exchange, and strict about the reply: a failed expansion is an
// error with a stable code, never a silent fallback.
import { chatCompletionsUrl } from './endpoint.js';
import { cleanReply } from './reply.js';
import { SDXL_EXPANSION_SYSTEM_PROMPT } from './system-prompt.js';
import { CLIP_CONTENT_TOKENS, fitToTokens, type TokenCounter } from './token-limit.js';

export type PromptExpansionCode =
  | 'prompt_expansion_timeout'
  | 'prompt_expansion_failed'
  | 'prompt_expansion_bad_reply'
  | 'prompt_expansion_unreachable';

export class PromptExpansionError extends Error {
  constructor(
    readonly code: PromptExpansionCode,
    message: string,
    readonly details: { status?: number } = {},
  ) {
    super(message);
    this.name = 'PromptExpansionError';
  }
}

export interface PromptExpanderOptions {
  url: string;
  model: string;
  apiKey?: string;
  timeoutMs: number;
  systemPrompt?: string;
  /** Upper bound on the reply length asked of the model (tokens of the LLM, not CLIP). */
  maxTokens?: number;
  /** Temperature when not deterministic. */
  temperature?: number;
  /** Bytes of reply body accepted. */
  maxReplyBytes?: number;
}

export interface ExpandOptions {
  /** temperature 0 and a fixed seed, so the same prompt expands the same way (where the server honours seeds). */
  deterministic?: boolean;
  seed?: number;
  /** Cancels the request (e.g. the run was cancelled). */
  signal?: AbortSignal;
  /** CLIP token counter; when given, the answer is fitted to `tokenLimit` tokens. */
  countTokens?: TokenCounter;
  tokenLimit?: number;
}

export interface Expansion {
  prompt: string;
  /** The model's reply before cleaning and fitting. */
  raw: string;
  /** The reply was cut to fit the CLIP token limit. */
  truncated: boolean;
  /** CLIP tokens of `prompt`, when a counter was given. */
  tokens?: number;
  model: string;
  ms: number;
}

interface ChatReply {
  choices?: { message?: { content?: unknown }; text?: unknown; finish_reason?: unknown }[];
  model?: unknown;
}

export class PromptExpander {
  readonly endpoint: string;

  constructor(readonly options: PromptExpanderOptions) {
    this.endpoint = chatCompletionsUrl(options.url);
    if (!(options.timeoutMs > 0)) throw new Error('prompt expander timeout must be positive');
  }

  /** The request body for a prompt (exported for tests and logs). */
  requestBody(prompt: string, opts: ExpandOptions = {}): Record<string, unknown> {
    const deterministic = opts.deterministic ?? true;
    return {
      model: this.options.model,
      messages: [
        { role: 'system', content: this.options.systemPrompt ?? SDXL_EXPANSION_SYSTEM_PROMPT },
        { role: 'user', content: prompt },
      ],
      temperature: deterministic ? 0 : (this.options.temperature ?? 0.8),
      ...(deterministic ? { top_p: 1, seed: opts.seed ?? 0 } : {}),
      max_tokens: this.options.maxTokens ?? 200,
      n: 1,
      stream: false,
    };
  }

  async expand(prompt: string, opts: ExpandOptions = {}): Promise<Expansion> {
    const t0 = performance.now();
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let status: number;
    let body: string;
    try {
      const res = await fetch(this.endpoint, { method: 'POST', headers, body: JSON.stringify(this.requestBody(prompt, opts)), signal, redirect: 'error' });
      status = res.status;
      body = await readLimited(res, this.options.maxReplyBytes ?? 1024 * 1024);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if (timeout.aborted) {
        throw new PromptExpansionError('prompt_expansion_timeout', `the prompt expander did not answer within ${this.options.timeoutMs} ms`);
      }
      if (err instanceof PromptExpansionError) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new PromptExpansionError(
        'prompt_expansion_unreachable',
        `cannot reach the prompt expander at ${this.endpoint}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    if (status < 200 || status > 299) {
      throw new PromptExpansionError('prompt_expansion_failed', `the prompt expander answered HTTP ${status}: ${errorSnippet(body)}`, { status });
    }
    const raw = parseReply(body);
    const cleaned = cleanReply(raw);
    if (!cleaned) throw new PromptExpansionError('prompt_expansion_bad_reply', 'the prompt expander returned an empty answer');
    const fit = opts.countTokens ? fitToTokens(cleaned, opts.countTokens, opts.tokenLimit ?? CLIP_CONTENT_TOKENS) : undefined;
    return {
      prompt: fit?.text ?? cleaned,
      raw,
      truncated: fit?.truncated ?? false,
      ...(fit ? { tokens: fit.tokens } : {}),
      model: this.options.model,
      ms: performance.now() - t0,
    };
  }
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw new PromptExpansionError('prompt_expansion_bad_reply', `the prompt expander's reply exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorSnippet(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string' && m) return m.slice(0, 300);
  } catch {
    /* not JSON */
  }
  return body.slice(0, 300).trim() || '(empty body)';
}

/** The answer text of a chat-completions reply; throws bad_reply on anything else. */
export function parseReply(body: string): string {
  let j: ChatReply;
  try {
    j = JSON.parse(body) as ChatReply;
  } catch {
    throw new PromptExpansionError('prompt_expansion_bad_reply', `the prompt expander's reply is not JSON: ${body.slice(0, 120)}`);
  }
  if (!j || typeof j !== 'object' || !Array.isArray(j.choices) || j.choices.length === 0) {
    throw new PromptExpansionError('prompt_expansion_bad_reply', 'the prompt expander\'s reply has no "choices"');
  }
  const c = j.choices[0]!;
  const content = c?.message?.content ?? c?.text;
  if (typeof content !== 'string') {
    throw new PromptExpansionError('prompt_expansion_bad_reply', 'the prompt expander\'s reply has no choices[0].message.content text');
  }
  return content;
}
