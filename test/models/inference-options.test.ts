// The memory choices of issue 14 as the environment sets them (inference-options.ts).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { inferenceOptionsFromConfig, sessionOptionsFor } from '../../server/models/inference-options.js';

describe('memory settings', () => {
  it('defaults: no CPU arena, memory pattern on, memory handed back after jobs, VAE tiling auto', () => {
    const opts = inferenceOptionsFromConfig(loadConfig({}));
    expect(opts).toMatchObject({ cpuMemArena: false, releaseMemory: true, vaeTiling: 'auto' });
    expect(sessionOptionsFor(opts, 'cpu')).toMatchObject({ enableCpuMemArena: false, enableMemPattern: true });
  });

  it('MASKFLOW_ORT_CPU_ARENA=1 turns the arena on; MASKFLOW_RELEASE_MEMORY=0 keeps freed memory', () => {
    const opts = inferenceOptionsFromConfig(loadConfig({ MASKFLOW_ORT_CPU_ARENA: '1', MASKFLOW_RELEASE_MEMORY: '0' }));
    expect(opts).toMatchObject({ cpuMemArena: true, releaseMemory: false });
    expect(sessionOptionsFor(opts, 'cpu').enableCpuMemArena).toBe(true);
  });
});
