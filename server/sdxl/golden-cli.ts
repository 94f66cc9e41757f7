// `npm run golden -- <caseDir> (--models <modelsRoot> | --checkpoint <file|folder> [--config DIR])
//   --out <outDir> [--seed-from-params] [--check] [--threads N] [--ep cpu|cuda] [--<hook option> value ...]`
// Cases made on a checkpoint (params.json `checkpoint`) run from that file unless --checkpoint says otherwise.
// Replays a diffusers golden case through the pipeline code (golden-replay.ts) and writes
// final_latents.bin, image_out.bin, prompt_embeds.bin, pooled_prompt_embeds.bin and
// timesteps.bin (+ outputs.json). When the case folder holds the reference files, prints
// the max abs differences; --check turns a difference beyond the tolerance into exit 1.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { ModelStore } from '../models/model-store.js';
import { modelsDirWith } from '../checkpoints/single-model-dir.js';
// Registers the LoRA / textual-inversion golden hook (lora_* and ti_* cases; --lora-format kohya|peft).
import '../models/golden-adapters.js';
import { replayGoldenCase, writeReplayOutputs, type ReplayResult } from './golden-replay.js';

export interface GoldenCliArgs {
  caseDir: string;
  models?: string;
  /** A checkpoint file or diffusers folder to run instead of the case's model folder. */
  checkpoint?: string;
  config?: string;
  out: string;
  seedFromParams: boolean;
  check: boolean;
  threads: number;
  ep: 'cpu' | 'cuda';
  /** Every other --name value / --flag, for hooks (e.g. lora-format). */
  options: Record<string, string | boolean>;
}

/** Tolerances of test/fixtures/README.md §4 (never wider). */
export const TOLERANCES: Record<string, number> = {
  final_latents: 2e-3,
  image_out: 1e-4,
  prompt_embeds: 1e-4,
  pooled_prompt_embeds: 1e-4,
  timesteps: 0,
};

export function parseArgs(argv: string[]): GoldenCliArgs {
  const rest: string[] = [];
  const options: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      rest.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const next = argv[i + 1];
    if (inline !== undefined) options[name] = inline;
    else if (next !== undefined && !next.startsWith('--') && !['seed-from-params', 'check'].includes(name)) {
      options[name] = next;
      i++;
    } else options[name] = true;
  }
  if (rest.length !== 1) throw new Error('usage: golden <caseDir> (--models <modelsRoot> | --checkpoint <file|folder> [--config DIR]) --out <outDir> [--seed-from-params] [--check]');
  const str = (k: string): string | undefined => (typeof options[k] === 'string' ? (options[k] as string) : undefined);
  const models = str('models');
  const out = str('out');
  const checkpoint = str('checkpoint');
  const caseParams = path.join(path.resolve(rest[0]!), 'params.json');
  const caseCheckpoint = existsSync(caseParams) && (JSON.parse(readFileSync(caseParams, 'utf8')) as { checkpoint?: unknown }).checkpoint !== undefined;
  if (!models && !checkpoint && !caseCheckpoint) throw new Error('--models <modelsRoot> or --checkpoint <file|folder> is required');
  if (!out) throw new Error('--out <outDir> is required');
  const ep = str('ep') ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new Error('--ep must be cpu or cuda');
  const threads = Number(str('threads') ?? 0);
  const own = ['models', 'checkpoint', 'config', 'out', 'seed-from-params', 'check', 'threads', 'ep'];
  return {
    caseDir: path.resolve(rest[0]!),
    ...(models ? { models: path.resolve(models) } : {}),
    ...(checkpoint ? { checkpoint: path.resolve(checkpoint) } : {}),
    ...(str('config') ? { config: path.resolve(str('config')!) } : {}),
    out: path.resolve(out),
    seedFromParams: options['seed-from-params'] === true,
    check: options.check === true,
    threads: Number.isFinite(threads) ? threads : 0,
    ep,
    options: Object.fromEntries(Object.entries(options).filter(([k]) => !own.includes(k))),
  };
}

function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Max abs difference of each output against the case's reference files that exist. */
export function compareWithReference(r: ReplayResult, caseDir: string): Record<string, number> {
  const pairs: [string, ArrayLike<number>][] = [
    ['final_latents', r.finalLatents],
    ['image_out', r.imageOut],
    ['prompt_embeds', r.promptEmbeds],
    ['pooled_prompt_embeds', r.pooledPromptEmbeds],
    ['timesteps', r.timesteps],
  ];
  const out: Record<string, number> = {};
  for (const [name, data] of pairs) {
    const file = path.join(caseDir, `${name}.bin`);
    if (existsSync(file)) out[name] = maxAbsDiff(data, readF32(file));
  }
  return out;
}

/** The CLI's entry function: returns the exit code. */
export async function goldenMain(
  argv: string[],
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  /** A ModelStore to reuse (tests replay many cases without reloading sessions). */
  sharedStore?: ModelStore,
): Promise<number> {
  let args: GoldenCliArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    print(`error: ${(err as Error).message}`);
    return 2;
  }
  const ckpt = checkpointOf(args);
  const single = ckpt && modelsDirWith(ckpt.source, { configDir: ckpt.config });
  try {
    const store =
      (!single && sharedStore) ||
      new ModelStore({
        modelsDir: single ? single.modelsDir : args.models!,
        inference: { ep: args.ep, deviceId: 0, threads: args.threads, graphOptimization: 'all', outputLocation: 'cpu' },
        sessionCacheBytes: 2 ** 34,
        // Compiled next to the throwaway models folder: removed with it.
        compiledDir: single ? path.join(single.modelsDir, '.compiled') : path.join(tmpdir(), 'maskflow-golden-compiled'),
      });
    const t0 = performance.now();
    const r = await replayGoldenCase(args.caseDir, { store, seedFromParams: args.seedFromParams, options: args.options, ...(single ? { model: single.name } : {}) });
    const files = await writeReplayOutputs(r, args.out);
    print(`case ${r.params.case ?? path.basename(args.caseDir)}: ${r.timesteps.length} steps in ${Math.round(performance.now() - t0)} ms; wrote ${files.join(', ')} to ${args.out}`);
    let ok = true;
    for (const [name, diff] of Object.entries(compareWithReference(r, args.caseDir))) {
      const tol = TOLERANCES[name]!;
      const pass = diff <= tol;
      ok &&= pass;
      print(`  ${name}: max abs diff ${diff.toExponential(3)} (tolerance ${tol}) ${pass ? 'ok' : 'FAIL'}`);
    }
    return args.check && !ok ? 1 : 0;
  } catch (err) {
    print(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    single?.cleanup();
  }
}

/** --checkpoint, else the checkpoint a case was made on (params.json `checkpoint`, relative to the fixtures root). */
function checkpointOf(args: GoldenCliArgs): { source: string; config?: string } | undefined {
  if (args.checkpoint) return { source: args.checkpoint, ...(args.config ? { config: args.config } : {}) };
  const file = path.join(args.caseDir, 'params.json');
  if (!existsSync(file)) return undefined;
  const params = JSON.parse(readFileSync(file, 'utf8')) as { checkpoint?: { file: string; config?: string } };
  if (!params.checkpoint) return undefined;
  const root = path.resolve(args.caseDir, '..', '..');
  return { source: path.join(root, params.checkpoint.file), ...(params.checkpoint.config ? { config: path.join(root, params.checkpoint.config) } : {}) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await goldenMain(process.argv.slice(2));
}
