// Leak check (issue 14): ten 512² inpainting jobs in a row through the real pipeline (text
// encoders, VAE encode, 4 Euler steps with CFG, VAE decode) on the tiny compiled checkpoint,
// in a fresh process (bench/memory-job.ts) so RSS is the pipeline's own. Resident memory
// after each job must not trend upwards. Margins are generous; this is not a speed test
// (the bench, `npm run bench -- memory`, prints RSS after a job against idle).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import type { JobResult } from '../../bench/memory-job.js';
import { SINGLE, scratchModels } from '../checkpoints/helpers.js';

const scratch = scratchModels();
afterAll(() => scratch.cleanup());
const MB = 1024;

it('RSS does not grow over 10 repeated 512² jobs', async () => {
  const spec = { modelsDir: scratch.modelsDir, compiledDir: scratch.compiledDir, model: SINGLE, side: 512, numImages: 1, steps: 4, repeat: 10, inference: { threads: 1 } };
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', path.resolve('bench/memory-job.ts'), JSON.stringify(spec)], { maxBuffer: 2 ** 24 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as JobResult;
  const after = r.afterRssKb;
  process.stdout.write(`idle ${(r.idleRssKb / MB).toFixed(0)} MB; after each job (MB): ${after.map((kb) => (kb / MB).toFixed(0)).join(', ')}; peak ${(r.peakKb / MB).toFixed(0)} MB\n`);
  expect(after).toHaveLength(10);
  // Trend: jobs 8-10 hold no more than jobs 3-5 plus a margin (a leaked image, latent or
  // session per job adds up well beyond it; the first jobs settle the allocator's heaps).
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  expect(mean(after.slice(7)) - mean(after.slice(2, 5)), 'growth from jobs 3-5 to jobs 8-10').toBeLessThan(48 * MB);
  // Freed activations go back to the OS after every job (release-memory.ts); with the arena
  // (MASKFLOW_ORT_CPU_ARENA=1) the high-water mark stays resident instead. Either way: bounded.
  expect(Math.max(...after.slice(2)) - Math.min(...after.slice(2)), 'spread of RSS after jobs 3-10').toBeLessThan(48 * MB);
}, 600_000);
