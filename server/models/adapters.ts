// Wires LoRA / textual-inversion support into a worker: file sources from the configuration
// and the patcher registered on the ModelStore (ctx.services.adapters).
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { AdapterPatcher } from './adapter-patcher.js';
import { ModelSources } from './model-sources.js';
import type { ModelStore } from './model-store.js';

export type { AdapterPatcher };

export function createAdapters(
  config: Pick<Config, 'modelsDir' | 'dataDir' | 'urlAllowlist' | 'maxModelFileBytes' | 'modelFetchTimeoutMs' | 'maxRedirects'>,
  models: ModelStore,
  logger?: Logger,
): AdapterPatcher {
  const cacheDir = path.join(config.dataDir, 'cache');
  const sources = new ModelSources({
    modelsDir: config.modelsDir,
    cacheDir,
    urlAllowlist: config.urlAllowlist,
    maxBytes: config.maxModelFileBytes,
    timeoutMs: config.modelFetchTimeoutMs,
    maxRedirects: config.maxRedirects,
  });
  const patcher = new AdapterPatcher(sources, { cacheDir, modelDir: (name) => models.info(name).dir, logger });
  models.setPatcher(patcher);
  return patcher;
}
