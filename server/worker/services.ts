// Builds the services nodes reach through ctx.services, once per worker.
// Each domain adds its service here (and declares its type on NodeServices).
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { ModelStore } from '../models/model-store.js';
import { createAdapters, type AdapterPatcher } from '../models/adapters.js';
import { createPromptExpander } from '../prompt/service.js';
import type { PromptExpander } from '../prompt/expander.js';
import { createSafetyService, poolSessionLoader, type SafetyService } from '../safety/service.js';

declare module '../engine/context.js' {
  interface NodeServices {
    config: Config;
    logger: Logger;
    /** ORT sessions, tokenizers and model folders (server/models/model-store.ts). */
    models: ModelStore;
    /** Safety checker (server/safety/service.ts): checker absent when none is configured. */
    safety: SafetyService;
    /** OpenAI-compatible prompt expander (server/prompt/expander.ts); undefined when none is configured. */
    promptExpander: PromptExpander | undefined;
    /** LoRA / textual-inversion files and the ModelStore's patcher (server/models/adapters.ts). */
    adapters: AdapterPatcher;
  }
}

export async function createServices(config: Config, logger: Logger) {
  const models = ModelStore.fromConfig(config, logger.child({ component: 'models' }));
  // The safety model's session lives in the same pool as the SDXL components: one memory owner, one EP choice.
  const safety = createSafetyService(config, logger.child({ component: 'safety' }), poolSessionLoader(config, logger, models.pool));
  const promptExpander = createPromptExpander(config, logger.child({ component: 'prompt' }));
  const adapters = createAdapters(config, models, logger.child({ component: 'adapters' }));
  return { config, logger, models, safety, promptExpander, adapters };
}
