// Memory of SDXL inpainting (issue 14), printed never asserted: a model of the SDXL inpainting
// structure at reduced width (../shared/fixtures/bench-config: UNet 64/128/256, VAE
// 32/64/128/128, tiny text encoders) with random weights, written as a diffusers folder and
// compiled by maskflow twice — today's settings (attention as whole matrices, ORT's CPU
// arena) and the current defaults (inference-options.ts) — then 1024² inpainting (4 steps,
// CFG 5, Euler, 2 threads) through the real pipeline, each job in a fresh process
// (bench/memory-job.ts), so peak RSS (VmHWM) is the job's own. Also 512², 2048² and
// num_images 4 at 1024² (new settings only: whole-matrix attention at 2048² needs > 16 GB).
// Goals: peak ≤ 3 GB at 1024² (diffusers 0.27 + torch on this model: 2.9 GB), RSS after the
// job within 1.2× of idle with the same sessions loaded, time within 5% of before.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { InferenceOptions } from '../server/models/inference-options.js';
import type { JobResult, JobSpec } from './memory-job.js';
import { writeRandomDiffusersFolder } from './random-diffusers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_CONFIG = path.resolve(ROOT, '../shared/fixtures/bench-config');
const TEXT_ENCODERS = path.join(ROOT, 'test/fixtures/checkpoints/tiny-sdxl-inpaint-diffusers');
const MODEL = 'bench-sdxl-inpaint';

const VARIANTS: Record<'before' | 'now', { label: string; inference: Partial<InferenceOptions> }> = {
  before: { label: 'before (whole-matrix attention, CPU arena)', inference: { attention: { impl: 'full', chunkTokens: 0 }, cpuMemArena: true } },
  now: { label: 'now (defaults)', inference: {} },
};

const gb = (kb: number) => `${(kb / 2 ** 20).toFixed(2)} GB`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Per-step time without the first step (which also faults in the activations' pages). */
const perStep = (r: JobResult) => median(r.stepMs.length > 1 ? r.stepMs.slice(1) : r.stepMs);

async function job(spec: JobSpec): Promise<JobResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(ROOT, 'bench/memory-job.ts'), JSON.stringify(spec)], {
    cwd: ROOT,
    maxBuffer: 2 ** 24,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as JobResult;
}

export default async function bench(print: (l: string) => void): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'maskflow-bench-memory-'));
  try {
    const modelsDir = path.join(dir, 'models');
    const bytes = await writeRandomDiffusersFolder(path.join(modelsDir, MODEL), BENCH_CONFIG, TEXT_ENCODERS);
    print(`bench model: ${MODEL} (bench-config, random fp32 weights, ${(bytes / 2 ** 20).toFixed(0)} MB UNet + VAE), 2 threads, 4 steps, CFG 5, Euler; one process per job`);
    const run = (variant: keyof typeof VARIANTS, side: number, numImages = 1, steps = 4) =>
      job({ modelsDir, compiledDir: path.join(dir, 'compiled'), model: MODEL, side, numImages, steps, inference: VARIANTS[variant].inference });
    const rows: [string, keyof typeof VARIANTS, JobResult][] = [];
    // Rows print as their jobs finish (the 2048² job alone takes minutes).
    print('');
    print('| request | settings | end to end | per step | peak RSS | idle RSS (sessions loaded) | RSS after the job | after / idle |');
    print('|---|---|---|---|---|---|---|---|');
    const row = (label: string, v: keyof typeof VARIANTS, r: JobResult) => {
      rows.push([label, v, r]);
      const after = r.afterRssKb.at(-1)!;
      print(`| ${label} | ${VARIANTS[v].label} | ${s(r.totalMs)} | ${s(perStep(r))} | ${gb(r.peakKb)} | ${gb(r.idleRssKb)} | ${gb(after)} | ${(after / r.idleRssKb).toFixed(2)}× |`);
    };
    const ratios: string[] = [];
    for (const side of [512, 1024]) {
      // Same run, one after the other: drift on a shared machine hits both alike.
      const before = await run('before', side);
      row(`${side}²`, 'before', before);
      const now = await run('now', side);
      row(`${side}²`, 'now', now);
      ratios.push(`${side}²: per step ${(perStep(now) / perStep(before)).toFixed(2)}×, end to end ${(now.totalMs / before.totalMs).toFixed(2)}× (goal ≤ 1.05×)`);
    }
    row('1024², num_images 4 (2 steps)', 'now', await run('now', 1024, 4, 2));
    row('2048² (2 steps)', 'now', await run('now', 2048, 1, 2));
    print('');
    print(`time now / before, same run: ${ratios.join('; ')}`);
    const b = rows.find(([l, v]) => l === '1024²' && v === 'before')![2];
    const n = rows.find(([l, v]) => l === '1024²' && v === 'now')![2];
    print('');
    print('| 1024², 4 steps, CFG 5, Euler, 2 threads | time | peak RSS | RSS after the job |');
    print('|---|---|---|---|');
    print('| diffusers 0.27 + torch CPU (issue 14, bench-config README) | 190 s | 2.9 GB | (process ends) |');
    print(`| maskflow before | ${s(b.totalMs)} | ${gb(b.peakKb)} | ${gb(b.afterRssKb.at(-1)!)} (idle ${gb(b.idleRssKb)}) |`);
    print(`| maskflow now | ${s(n.totalMs)} | ${gb(n.peakKb)} (goal ≤ 3 GB) | ${gb(n.afterRssKb.at(-1)!)} (idle ${gb(n.idleRssKb)}; goal ≤ 1.2×) |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
