// For the REST layer, before queueing: expand_prompt=true on a server without an expander is
// refused with 422 prompt_expansion_unavailable (never silently ignored). Main-thread safe.
import type { Config } from '../config.js';
import { chatCompletionsUrl } from './endpoint.js';

export interface PromptExpansionRefusal {
  status: 422;
  code: 'prompt_expansion_unavailable';
  message: string;
}

/** Configured with a usable URL (the worker refuses the same configurations, see service.ts). */
export function promptExpansionAvailable(config: Pick<Config, 'promptExpander'>): boolean {
  if (!config.promptExpander?.url) return false;
  try {
    chatCompletionsUrl(config.promptExpander.url);
    return config.promptExpander.timeoutMs > 0;
  } catch {
    return false;
  }
}

export function promptExpansionRefusal(config: Pick<Config, 'promptExpander'>, expandPrompt: boolean | undefined): PromptExpansionRefusal | undefined {
  if (!expandPrompt || promptExpansionAvailable(config)) return undefined;
  return {
    status: 422,
    code: 'prompt_expansion_unavailable',
    message: 'expand_prompt was requested but this server has no prompt expander (set MASKFLOW_PROMPT_EXPANDER_URL), so the prompt would be used unexpanded',
  };
}

/** What /health reports about prompt expansion (no secrets: the key is never included). */
export function promptExpansionStatus(config: Pick<Config, 'promptExpander'>): { available: boolean; model?: string; url?: string; timeout_ms?: number } {
  const p = config.promptExpander;
  if (!p) return { available: false };
  let url = p.url;
  try {
    const u = new URL(p.url);
    u.username = '';
    u.password = '';
    u.search = '';
    url = u.toString();
  } catch {
    /* reported when used */
  }
  return { available: true, model: p.model, url, timeout_ms: p.timeoutMs };
}
