// Builds the worker's prompt expander from config (undefined when none is configured).
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { PromptExpander } from './expander.js';

export function createPromptExpander(config: Pick<Config, 'promptExpander'>, logger?: Logger): PromptExpander | undefined {
  const p = config.promptExpander;
  if (!p) return undefined;
  let expander: PromptExpander;
  try {
    expander = new PromptExpander(p);
  } catch (err) {
    // Same verdict as promptExpansionAvailable(): requests get prompt_expansion_unavailable.
    logger?.error({ err: (err as Error).message }, 'prompt expander configuration is unusable');
    return undefined;
  }
  logger?.info({ endpoint: expander.endpoint, model: p.model }, 'prompt expander configured');
  return expander;
}
