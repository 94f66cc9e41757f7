// What /health (and the REST facade) say about safety checking, computed on the main
// thread from config and cheap file checks only (no ORT).
import type { Config } from '../config.js';
import { detectSafetyModel, type SafetyLayout } from './model-folder.js';

export interface SafetyStatus {
  /** A model folder is configured and recognised: enable_safety_checker really checks. */
  available: boolean;
  configured: boolean;
  model?: string;
  layout?: SafetyLayout;
  /** 'report': unchecked requests run and say safety_checked=false; 'refuse': they fail. */
  policy: 'report' | 'refuse';
  action: 'black' | 'blur';
  error?: string;
}

export function safetyStatus(config: Pick<Config, 'safetyModel' | 'safetyPolicy' | 'safetyAction'>): SafetyStatus {
  const base = { policy: config.safetyPolicy, action: config.safetyAction };
  if (!config.safetyModel) return { available: false, configured: false, ...base };
  try {
    const f = detectSafetyModel(config.safetyModel);
    return { available: true, configured: true, model: f.name, layout: f.layout, ...base };
  } catch (err) {
    return { available: false, configured: true, model: config.safetyModel, error: err instanceof Error ? err.message : String(err), ...base };
  }
}

/**
 * For the REST layer before queueing: the error to answer (HTTP 503) when a request asks for
 * a safety check this server cannot do, undefined when it may proceed. Mirrors what the
 * safety/check-image node would do in the worker: a configured but unusable folder always
 * fails; a missing model fails only under policy 'refuse' (under 'report' the response says
 * safety_checked: false).
 */
export function safetyRefusal(
  config: Pick<Config, 'safetyModel' | 'safetyPolicy' | 'safetyAction'>,
  enableSafetyChecker: boolean,
): { code: 'safety_checker_unavailable' | 'safety_model_invalid'; message: string } | undefined {
  if (!enableSafetyChecker) return undefined;
  const s = safetyStatus(config);
  if (s.available) return undefined;
  if (s.configured) return { code: 'safety_model_invalid', message: `the configured safety model is unusable: ${s.error}` };
  if (config.safetyPolicy !== 'refuse') return undefined;
  return {
    code: 'safety_checker_unavailable',
    message: 'no safety model is configured (MASKFLOW_SAFETY_MODEL) and the safety policy is "refuse"; set enable_safety_checker=false or configure a model',
  };
}
