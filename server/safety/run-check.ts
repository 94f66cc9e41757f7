// What the safety/check-image node does, as a library function: check each image, replace
// flagged ones, and describe the outcome in the fields the API documents (docs/safety.md).
import type { RgbImage } from '../image/types.js';
import { applySafetyAction, type SafetyAction } from './actions.js';
import type { Config } from '../config.js';
import type { SafetyService } from './service.js';

export interface SafetyReport {
  /** Per output image; all false when no check ran. */
  has_nsfw_concepts: boolean[];
  /**
   * Per image: whether a model actually looked at it (the REST response's per-image
   * safety_checked; all entries are equal, one check covers the whole batch).
   */
  safety_checked: boolean[];
  /** Why no check ran: the caller disabled it, or the server has no (usable) model. */
  safety_skipped?: 'disabled' | 'not_configured';
  safety_model?: string;
  /** Image-classifier models: summed probability of the unsafe labels, per image. */
  probabilities?: number[];
  /** What was done to flagged images. */
  safety_action?: SafetyAction;
}

/** safety_checker_unavailable: no model and policy 'refuse'; safety_model_invalid: the configured folder is unusable. */
export class SafetyUnavailableError extends Error {
  constructor(
    readonly code: 'safety_checker_unavailable' | 'safety_model_invalid',
    message: string,
  ) {
    super(message);
    this.name = 'SafetyUnavailableError';
  }
}

export interface CheckOptions {
  enabled: boolean;
  /** 'config' = the server's MASKFLOW_SAFETY_ACTION. */
  action: SafetyAction | 'config';
  signal?: AbortSignal;
}

export async function runSafetyCheck(
  service: SafetyService,
  images: RgbImage[],
  opts: CheckOptions,
): Promise<{ images: RgbImage[]; report: SafetyReport }> {
  const none = images.map(() => false);
  if (!opts.enabled) return { images, report: { has_nsfw_concepts: none, safety_checked: images.map(() => false), safety_skipped: 'disabled' } };
  const checker = service.checker;
  if (!checker) {
    // A configured but broken model never lets images through unchecked, whatever the policy.
    if (service.error) throw new SafetyUnavailableError('safety_model_invalid', `the configured safety model is unusable: ${service.error}`);
    if (service.policy === 'refuse') {
      throw new SafetyUnavailableError(
        'safety_checker_unavailable',
        'no safety model is configured (MASKFLOW_SAFETY_MODEL) and the safety policy is "refuse"; disable the check or configure a model',
      );
    }
    return { images, report: { has_nsfw_concepts: none, safety_checked: images.map(() => false), safety_skipped: 'not_configured' } };
  }
  const action = opts.action === 'config' ? service.action : opts.action;
  const verdicts = await checker.check(images, opts.signal);
  const out = images.map((img, i) => (verdicts[i]!.nsfw ? applySafetyAction(img, action) : img));
  const report: SafetyReport = {
    has_nsfw_concepts: verdicts.map((v) => v.nsfw),
    safety_checked: images.map(() => true),
    safety_model: checker.name,
    safety_action: action,
  };
  if (verdicts.every((v) => v.probability !== undefined)) report.probabilities = verdicts.map((v) => v.probability!);
  return { images: out, report };
}

/** The worker's safety service, or "no model" when a caller built services without one (tests, embedders). */
export function safetyServiceOf(services: { safety?: SafetyService; config?: Pick<Config, 'safetyPolicy' | 'safetyAction'> }): SafetyService {
  return services.safety ?? { policy: services.config?.safetyPolicy ?? 'report', action: services.config?.safetyAction ?? 'black' };
}
