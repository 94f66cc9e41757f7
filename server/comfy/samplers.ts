// ComfyUI's sampler_name + scheduler onto maskflow's schedulers (server/sdxl/schedulers).
// Only pairs maskflow implements are accepted; anything else is refused with the list of
// supported pairs, never replaced by something else. docs/comfyui.md has the table.

/** sampler_name -> scheduler -> maskflow scheduler name. */
export const SAMPLER_MAP: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  euler: { normal: 'euler' },
  euler_ancestral: { normal: 'euler_ancestral' },
  dpmpp_2m: { normal: 'dpmpp_2m', karras: 'dpmpp_2m_karras' },
  ddim: { normal: 'ddim', ddim_uniform: 'ddim' },
};

export const SAMPLER_NAMES: readonly string[] = Object.keys(SAMPLER_MAP);
export const SCHEDULER_NAMES: readonly string[] = [...new Set(Object.values(SAMPLER_MAP).flatMap((m) => Object.keys(m)))];

export function supportedPairs(): string[] {
  return Object.entries(SAMPLER_MAP).flatMap(([s, m]) => Object.keys(m).map((k) => `${s}/${k}`));
}

/** The maskflow scheduler for a ComfyUI pair, or undefined when maskflow cannot run it. */
export function mapSampler(samplerName: string, scheduler: string): string | undefined {
  return Object.hasOwn(SAMPLER_MAP, samplerName) && Object.hasOwn(SAMPLER_MAP[samplerName]!, scheduler) ? SAMPLER_MAP[samplerName]![scheduler] : undefined;
}
