// Memory of SDXL inpainting (issue 14), printed never asserted: a model of the SDXL inpainting
// structure at reduced width (../shared/fixtures/bench-config: UNet 64/128/256, VAE
// 32/64/128/128, tiny text encoders) with random weights, written as a diffusers folder and
// compiled by maskflow with the settings of the issue (attention as whole matrices, ORT's CPU
// arena), with flash attention and the arena (the previous default) and with the current
// defaults (inference-options.ts: flash attention, no arena, freed memory handed back after
// each job) — then inpainting (4 steps, CFG 5, Euler, 2 threads) through the real pipeline.
// Each case runs in a fresh process (bench/memory-job.ts), so peak RSS (VmHWM) is its own, and
// runs two jobs: the first at a size is cold (onnxruntime plans its memory pattern), the second
// is what a running server sees. Also 2048² and num_images 4 at 1024² (current defaults only:
// whole-matrix attention at 2048² needs > 16 GB).
// Goals: peak ≤ 3 GB at 1024² (diffusers 0.27 + torch on this model: 2.9 GB), RSS after the
// job within 1.2× of idle with the same sessions loaded, time within 5% of before.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
/** The bench model with SDXL's own VAE widths (128/256/512/512): the VAE at 1024² as users run it. */
const SDXL_VAE_MODEL = 'bench-sdxl-vae';

function sdxlVaeConfig(dir: string): string {
  cpSync(BENCH_CONFIG, dir, { recursive: true });
  const file = path.join(dir, 'vae/config.json');
  const vae = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...vae, block_out_channels: [128, 256, 512, 512] }));
  return dir;
}

type Variant = 'before' | 'arena' | 'now';
const VARIANTS: Record<Variant, { label: string; inference: Partial<InferenceOptions>; release: boolean }> = {
  before: { label: 'issue 14: whole-matrix attention, CPU arena', inference: { attention: { impl: 'full', chunkTokens: 0 }, cpuMemArena: true }, release: false },
  arena: { label: 'flash attention, CPU arena', inference: { cpuMemArena: true }, release: true },
  now: { label: '**now: flash attention, no arena, memory handed back**', inference: {}, release: true },
};

const gb = (kb: number) => `${(kb / 2 ** 20).toFixed(2)} GB`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Per-step time of the warm job without its first step. */
const perStep = (r: JobResult) => {
  const t = r.jobs.at(-1)!.stepMs;
  return median(t.length > 1 ? t.slice(1) : t);
};
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

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
    print(`bench model: ${MODEL} (bench-config, random fp32 weights, ${(bytes / 2 ** 20).toFixed(0)} MB UNet + VAE), 2 threads, 4 steps, CFG 5, Euler; one process per row`);
    const run = (variant: Variant, side: number, opts: { numImages?: number; steps?: number; jobs?: number; model?: string } = {}) =>
      job({
        modelsDir,
        compiledDir: path.join(dir, 'compiled'),
        model: opts.model ?? MODEL,
        side,
        numImages: opts.numImages ?? 1,
        steps: opts.steps ?? 4,
        repeat: opts.jobs ?? 2,
        inference: VARIANTS[variant].inference,
        release: VARIANTS[variant].release,
      });
    const rows = new Map<string, JobResult>();
    // Rows print as their processes finish (the 2048² one alone takes minutes).
    print('');
    print('| request | settings | first job (cold) | second job | per step | peak RSS | idle RSS (sessions loaded) | RSS after each job | after / idle |');
    print('|---|---|---|---|---|---|---|---|---|');
    const row = (label: string, v: Variant, r: JobResult) => {
      rows.set(`${label}/${v}`, r);
      const warm = r.jobs.length > 1 ? s(r.jobs[1]!.totalMs) : '—';
      const worst = Math.max(...r.afterRssKb);
      print(`| ${label} | ${VARIANTS[v].label} | ${s(r.jobs[0]!.totalMs)} | ${warm} | ${s(perStep(r))} | ${gb(r.peakKb)} | ${gb(r.idleRssKb)} | ${r.afterRssKb.map(gb).join(', ')} | ${ratio(worst, r.idleRssKb)} |`);
    };
    for (const side of [512, 1024]) {
      // Same run, one after the other: drift on a shared machine hits all alike.
      for (const v of ['before', 'arena', 'now'] as const) row(`${side}²`, v, await run(v, side));
    }
    row('1024², num_images 4 (2 steps)', 'now', await run('now', 1024, { numImages: 4, steps: 2, jobs: 1 }));
    row('2048² (2 steps)', 'now', await run('now', 2048, { steps: 2, jobs: 1 }));
    // The VAE dominates at 1024²: with SDXL's widths its activations are 16× the bench model's.
    await writeRandomDiffusersFolder(path.join(modelsDir, SDXL_VAE_MODEL), sdxlVaeConfig(path.join(dir, 'sdxl-vae-config')), TEXT_ENCODERS);
    for (const v of ['arena', 'now'] as const) row('1024², SDXL-size VAE (2 steps)', v, await run(v, 1024, { steps: 2, model: SDXL_VAE_MODEL }));
    print('');
    for (const side of [512, 1024]) {
      const b = rows.get(`${side}²/before`)!;
      const n = rows.get(`${side}²/now`)!;
      print(
        `${side}², now / issue 14, same run: first job ${ratio(n.jobs[0]!.totalMs, b.jobs[0]!.totalMs)}, second job ${ratio(n.jobs[1]!.totalMs, b.jobs[1]!.totalMs)}, ` +
          `per step ${ratio(perStep(n), perStep(b))} (goal ≤ 1.05×); RSS after / idle ${ratio(Math.max(...n.afterRssKb), n.idleRssKb)} (goal ≤ 1.2×)`,
      );
    }
    const b = rows.get('1024²/before')!;
    const n = rows.get('1024²/now')!;
    print('');
    print('| 1024², 4 steps, CFG 5, Euler, 2 threads | time (first job; second) | peak RSS | RSS after the job |');
    print('|---|---|---|---|');
    print('| diffusers 0.27 + torch CPU (issue 14, bench-config README) | 190 s | 2.9 GB | (process ends) |');
    print(`| maskflow at issue 14 | ${s(b.jobs[0]!.totalMs)}; ${s(b.jobs[1]!.totalMs)} | ${gb(b.peakKb)} | ${gb(Math.max(...b.afterRssKb))} (idle ${gb(b.idleRssKb)}) |`);
    print(`| maskflow now | ${s(n.jobs[0]!.totalMs)}; ${s(n.jobs[1]!.totalMs)} | ${gb(n.peakKb)} (goal ≤ 3 GB) | ${gb(Math.max(...n.afterRssKb))} (idle ${gb(n.idleRssKb)}; goal ≤ 1.2×) |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
