import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { clipTokenCounter } from '../../server/prompt/clip-count.js';
import { PromptExpansionError } from '../../server/prompt/expander.js';
import { ExpansionUnavailableError, runExpand } from '../../server/prompt/run-expand.js';
import type { TokenCounter } from '../../server/prompt/token-limit.js';

export default defineNode({
  type: 'prompt/expand',
  title: 'Expand prompt',
  description:
    'Rewrites a short prompt into a detailed SDXL prompt with an LLM behind an OpenAI-compatible chat-completions endpoint ' +
    '(MASKFLOW_PROMPT_EXPANDER_URL). Keeps the subject, adds light, composition and style, stays within 75 CLIP tokens ' +
    '(cut at the last phrase that fits, counted with the linked CLIP tokenizers). Disabled: passes the prompt through.',
  inputs: {
    text: { type: 'STRING', optional: true, description: 'Prompt; overrides the prompt param when linked.' },
    clip: { type: 'CLIP', optional: true, description: 'Tokenizers for the 75-token limit (default model when unlinked).' },
  },
  outputs: { text: { type: 'STRING', description: 'The final prompt.' } },
  output: true,
  params: Type.Object(
    {
      prompt: Type.String({ default: '', description: 'The prompt to expand.' }),
      enabled: Type.Boolean({ default: false, description: 'Expand (the API field expand_prompt); off = pass through.' }),
      deterministic: Type.Boolean({ default: true, description: 'temperature 0 and a fixed seed: the same prompt expands the same way.' }),
      seed: Type.Integer({ default: 0, minimum: 0, maximum: 2147483647, description: 'Seed sent to the LLM when deterministic.' }),
      on_error: Type.Unsafe<'fail' | 'original'>({
        type: 'string',
        enum: ['fail', 'original'],
        default: 'fail',
        description: 'When the expander fails: fail the run, or keep the original prompt (reported as expansion_error).',
      }),
    },
    { additionalProperties: false },
  ),
  // Non-deterministic expansion must not be served from the cache; deterministic depends on the endpoint.
  fingerprint(params, ctx) {
    const p = ctx.services.config?.promptExpander;
    const endpoint = p ? `${p.url}|${p.model}|${p.systemPrompt ?? ''}` : 'none';
    return params.enabled && !params.deterministic ? `${endpoint}|${Math.random()}` : endpoint;
  },
  async execute(inputs, params, ctx) {
    const prompt = inputs.text ?? params.prompt;
    let countTokens: TokenCounter | undefined;
    if (params.enabled && ctx.services.promptExpander) {
      try {
        countTokens = clipTokenCounter(await ctx.services.models.getTokenizers(inputs.clip ?? { model: '', loras: [], embeddings: [] }));
      } catch (err) {
        if (inputs.clip) throw err;
        ctx.log('warn', 'no CLIP tokenizer available (no clip input, no default model): the expanded prompt is not fitted to 75 tokens', {
          err: (err as Error).message,
        });
      }
    }
    try {
      const report = await runExpand(ctx.services.promptExpander, prompt, {
        enabled: params.enabled,
        deterministic: params.deterministic,
        seed: params.seed,
        onError: params.on_error,
        signal: ctx.signal,
        countTokens,
      });
      if (report.expansion_error) ctx.log('warn', `prompt expansion failed, keeping the original prompt: ${report.expansion_error.message}`);
      if (report.truncated) ctx.log('info', 'expanded prompt cut to 75 CLIP tokens');
      return { text: report.prompt, ui: { ...report } };
    } catch (err) {
      ctx.throwIfCancelled();
      if (err instanceof ExpansionUnavailableError) throw new NodeError(err.code, err.message, { param: 'enabled', status: 422 });
      if (err instanceof PromptExpansionError) throw new NodeError(err.code, err.message, { status: 502, ...(err.details.status !== undefined ? { upstream_status: err.details.status } : {}) });
      throw err;
    }
  },
});
