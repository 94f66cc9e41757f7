// Builds the worker's safety service from config. A misconfigured folder does not stop the
// worker: the problem is kept and reported by every run that asks for a check (and by /health).
import { statSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { inferenceOptionsFromConfig } from '../models/inference-options.js';
import { SessionPool } from '../models/sessions.js';
import { openSafetyChecker, type LoadSession, type SafetyChecker } from './checker.js';
import type { SafetyAction } from './actions.js';

export interface SafetyService {
  /** Present when a model is configured and its folder is usable. */
  checker?: SafetyChecker;
  /** Why the configured folder cannot be used. */
  error?: string;
  policy: 'report' | 'refuse';
  action: SafetyAction;
}

/**
 * Sessions come from a SessionPool, so the execution provider (and its CUDA -> CPU fallback)
 * is chosen in models/inference-options.ts like every other model's. The checker has its own
 * pool: it is small, used after every generation, and should not be evicted by UNet churn.
 */
export function poolSessionLoader(config: Config, logger?: Logger, pool?: SessionPool): LoadSession {
  const p = pool ?? new SessionPool(inferenceOptionsFromConfig(config), Number.MAX_SAFE_INTEGER, logger);
  return (modelPath) => p.get(`safety:${modelPath}`, async () => ({ path: modelPath }), statSync(modelPath).size);
}

export function createSafetyService(config: Config, logger?: Logger, loadSession?: LoadSession): SafetyService {
  const base = { policy: config.safetyPolicy, action: config.safetyAction };
  if (!config.safetyModel) return base;
  try {
    const checker = openSafetyChecker(config.safetyModel, loadSession ?? poolSessionLoader(config, logger), config.safetyThreshold);
    logger?.info({ model: config.safetyModel, layout: checker.layout }, 'safety checker configured');
    return { ...base, checker };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    logger?.error({ model: config.safetyModel, err: error }, 'safety model folder is unusable');
    return { ...base, error };
  }
}
