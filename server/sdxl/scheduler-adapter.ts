// The sampler's view of the schedulers in ./schedulers (one stateful object per image).
import { createScheduler } from './schedulers/index.js';
import type { Scheduler, SchedulerConfig, SchedulerName } from './schedulers/types.js';

export type SamplerScheduler = Pick<Scheduler, 'setTimesteps' | 'timesteps' | 'setBeginIndex' | 'initNoiseSigma' | 'scaleModelInput' | 'step' | 'addNoise'>;

export function makeScheduler(name: string, config: Record<string, unknown>): SamplerScheduler {
  return createScheduler(name as SchedulerName, config as SchedulerConfig);
}
