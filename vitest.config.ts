import { defineConfig } from 'vitest/config';

// One suite for server, nodes and client modules. ORT and sharp use native threads,
// so test files run in forked processes; two at a time on CI's two cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
