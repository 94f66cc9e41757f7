// One inpainting job in its own process, for `npm run bench -- memory`: peak and resident
// memory are per process, so every case gets a fresh one. Prints one JSON line.
// Usage: node --expose-gc --import tsx bench/memory-job.ts '<JobSpec json>'
import { readFileSync } from 'node:fs';
import { ModelStore } from '../server/models/model-store.js';
import type { InferenceOptions } from '../server/models/inference-options.js';
import { denoise } from '../server/sdxl/denoise.js';
import { decodeLatent, encodeImage } from '../server/sdxl/latents.js';
import { TorchGenerator } from '../server/sdxl/rng.js';
import { encodeConditioning } from '../server/sdxl/text-encoding.js';
import { releaseFreedMemory } from '../server/models/release-memory.js';

export interface JobSpec {
  modelsDir: string;
  compiledDir: string;
  model: string;
  side: number;
  numImages: number;
  steps: number;
  /** Jobs run back to back in the same process: the first at a size is cold, later ones warm. */
  repeat?: number;
  inference: Partial<InferenceOptions>;
  /** Hand freed memory back after each job, as the server's job runner does (default true). */
  release?: boolean;
}

export interface JobTimes {
  encodeMs: number;
  stepMs: number[];
  decodeMs: number;
  totalMs: number;
}

export interface JobResult {
  idleRssKb: number;
  /** RSS after each job. */
  afterRssKb: number[];
  /** Peak RSS of the process (VmHWM) after each job. */
  peakKbAfter: number[];
  peakKb: number;
  /** Timings of each job, in order. */
  jobs: JobTimes[];
}

const status = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const collect = () => (globalThis as { gc?: () => void }).gc?.();

export async function runJob(spec: JobSpec): Promise<JobResult> {
  const store = new ModelStore({
    modelsDir: spec.modelsDir,
    compiledDir: spec.compiledDir,
    inference: { ep: 'cpu', deviceId: 0, threads: 2, graphOptimization: 'all', outputLocation: 'cpu', ...spec.inference },
    sessionCacheBytes: 2 ** 36,
  });
  const ref = { model: spec.model, loras: [], embeddings: [] };
  for (const c of ['text_encoder', 'text_encoder_2', 'unet', 'vae_encoder', 'vae_decoder'] as const) await store.getSession(ref, c);
  const release = () => {
    collect();
    if (spec.release !== false) releaseFreedMemory();
  };
  release();
  const idleRssKb = status('VmRSS');
  const W = spec.side;
  const image = { width: W, height: W, data: new Uint8Array(W * W * 3).map((_, i) => ((i % (3 * W)) * 255) / (3 * W)) };
  const mask = { width: W, height: W, data: new Float32Array(W * W).map((_, i) => (Math.hypot((i % W) - W / 2, Math.floor(i / W) - W / 2) < W / 4 ? 1 : 0)) };
  const afterRssKb: number[] = [];
  const peakKbAfter: number[] = [];
  const jobs: JobTimes[] = [];
  for (let n = 0; n < (spec.repeat ?? 1); n++) {
    const t0 = performance.now();
    const cond = await encodeConditioning(store, ref, { prompt: 'a photo of a cat', negative: '' });
    const latent = await encodeImage(store, ref, image, mask);
    const t1 = performance.now();
    const res = await denoise(store, ref, cond.positive, cond.negative, latent, {
      steps: spec.steps, guidance: 5, strength: 1, numImages: spec.numImages, seed: 1, scheduler: 'euler', vaeMode: 'sample', generator: (s) => new TorchGenerator(s),
    });
    const t2 = performance.now();
    await decodeLatent(store, ref, res.latent);
    const t3 = performance.now();
    jobs.push({ encodeMs: t1 - t0, stepMs: res.stepMs, decodeMs: t3 - t2, totalMs: t3 - t0 });
    release();
    afterRssKb.push(status('VmRSS'));
    peakKbAfter.push(status('VmHWM'));
  }
  return { idleRssKb, afterRssKb, peakKbAfter, peakKb: status('VmHWM'), jobs };
}

if (process.argv[1]?.endsWith('memory-job.ts')) {
  const spec = JSON.parse(process.argv[2]!) as JobSpec;
  const result = await runJob(spec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
