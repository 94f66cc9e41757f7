/**
 * diffusers-compatible schedulers (diffusers 0.27.2 semantics, checked against the pipeline goldens).
 *
 * API (stable):
 *   const s = createScheduler('euler', schedulerConfigJson, { timestepSpacing: 'trailing' });
 *   s.setTimesteps(steps);                                   // s.timesteps, s.sigmas, s.initNoiseSigma
 *   const { timesteps, beginIndex } = getStrengthTimesteps(s, steps, strength);
 *   s.setBeginIndex(beginIndex);
 *   x = s.scaleModelInput(latents, t); latents = s.step(eps, t, latents, rng?);  // see types.ts
 *   s.addNoise(imageLatents, noise, t)
 *
 * Names: 'euler' (EulerDiscreteScheduler), 'euler_ancestral' (EulerAncestralDiscreteScheduler, needs
 * `rng` in step), 'dpmpp_2m' / 'dpmpp_2m_karras' (DPMSolverMultistepScheduler dpmsolver++ order 2,
 * use_karras_sigmas false / true), 'ddim' (DDIMScheduler, eta 0). The config is the model's
 * scheduler_config.json whatever its `_class_name` (diffusers' `from_config` does the same); missing
 * keys take the target class's defaults. Supported: beta_schedule linear / scaled_linear /
 * squaredcos_cap_v2 / trained_betas, steps_offset, timestep_spacing leading / trailing / linspace,
 * prediction_type epsilon / v_prediction, interpolation_type linear.
 */
import { resolveConfig } from './common.js';
import { DdimScheduler } from './ddim.js';
import { DpmSolverMultistepScheduler } from './dpmpp-2m.js';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral.js';
import { EulerDiscreteScheduler } from './euler.js';
import type { Scheduler, SchedulerConfig, SchedulerName, TimestepSpacing } from './types.js';

export type { PredictionType, Scheduler, SchedulerConfig, SchedulerName, TimestepSpacing } from './types.js';
export { DdimScheduler } from './ddim.js';
export { DpmSolverMultistepScheduler } from './dpmpp-2m.js';
export { EulerAncestralDiscreteScheduler } from './euler-ancestral.js';
export { EulerDiscreteScheduler } from './euler.js';

export const SCHEDULER_NAMES: readonly SchedulerName[] = ['euler', 'euler_ancestral', 'dpmpp_2m', 'dpmpp_2m_karras', 'ddim'];

export function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

export function createScheduler(
  name: SchedulerName,
  config: SchedulerConfig,
  overrides: { timestepSpacing?: TimestepSpacing } = {},
): Scheduler {
  switch (name) {
    case 'euler':
      return new EulerDiscreteScheduler(resolveConfig(config, 'linspace', overrides));
    case 'euler_ancestral':
      return new EulerAncestralDiscreteScheduler(resolveConfig(config, 'linspace', { ...overrides, useKarrasSigmas: false }));
    case 'dpmpp_2m':
      return new DpmSolverMultistepScheduler(resolveConfig(config, 'linspace', { ...overrides, useKarrasSigmas: false }));
    case 'dpmpp_2m_karras':
      return new DpmSolverMultistepScheduler(resolveConfig(config, 'linspace', { ...overrides, useKarrasSigmas: true }));
    case 'ddim':
      return new DdimScheduler(resolveConfig(config, 'leading', overrides));
    default:
      throw new Error(`unknown scheduler ${JSON.stringify(name)}; expected one of ${SCHEDULER_NAMES.join(', ')}`);
  }
}

/**
 * The img2img / inpaint strength rule of diffusers 0.27.2 `get_timesteps`:
 * init = min(int(steps * strength), steps); t_start = max(steps - init, 0);
 * timesteps = scheduler.timesteps[t_start * order:], beginIndex = t_start * order.
 * Call after setTimesteps(steps); pass beginIndex to setBeginIndex().
 */
export function getStrengthTimesteps(
  scheduler: Scheduler,
  steps: number,
  strength: number,
): { timesteps: number[]; beginIndex: number } {
  if (!(strength >= 0 && strength <= 1)) throw new Error(`strength must be between 0 and 1, got ${strength}`);
  if (scheduler.timesteps.length === 0) throw new Error('scheduler: call setTimesteps() first');
  const init = Math.min(Math.floor(steps * strength), steps);
  const tStart = Math.max(steps - init, 0);
  const beginIndex = tStart * scheduler.order;
  return { timesteps: scheduler.timesteps.slice(beginIndex), beginIndex };
}
