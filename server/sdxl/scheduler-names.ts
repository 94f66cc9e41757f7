// Scheduler names the denoise node offers, and how a diffusers scheduler class + config
// (a model folder's scheduler_config.json, or a golden's params.json) maps onto them.
import { SCHEDULER_NAMES } from './schedulers/index.js';

export const SCHEDULER_CHOICES: readonly string[] = ['default', ...SCHEDULER_NAMES];

/** Name of the scheduler for a diffusers class name and config. */
export function schedulerNameFor(className: string, config: Record<string, unknown>): string {
  switch (className) {
    case 'EulerDiscreteScheduler':
      return 'euler';
    case 'EulerAncestralDiscreteScheduler':
      return 'euler_ancestral';
    case 'DPMSolverMultistepScheduler':
      return config.use_karras_sigmas ? 'dpmpp_2m_karras' : 'dpmpp_2m';
    case 'DDIMScheduler':
      return 'ddim';
    default:
      throw new Error(`unsupported scheduler class ${className}`);
  }
}

/**
 * "default" = the model folder's scheduler (class and config as exported); a name keeps
 * the folder's training parameters (betas, timesteps, spacing, prediction type) and
 * swaps the algorithm.
 */
export function resolveScheduler(choice: string, modelConfig: Record<string, unknown>): { name: string; config: Record<string, unknown> } {
  if (choice === 'default') return { name: schedulerNameFor(String(modelConfig._class_name ?? 'EulerDiscreteScheduler'), modelConfig), config: modelConfig };
  if (!SCHEDULER_CHOICES.includes(choice)) throw new Error(`unknown scheduler "${choice}"; expected one of ${SCHEDULER_CHOICES.join(', ')}`);
  return { name: choice, config: modelConfig };
}
