// Checkpoints compiled by maskflow's graph builder (printed, never asserted):
//  1. speed: the compiled tiny UNet against the Optimum export of the same weights, same run,
//     512² and 1024² (CFG batch 2), as a ratio (goal: compiled ≤ 1.0× the export's time);
//  2. real size (`npm run bench -- checkpoint` only): writes a random-weight full-size SDXL 1.0
//     inpainting checkpoint (standard architecture, fp16, SGM keys, ~7 GB) to a temp folder,
//     compiles it, encodes a prompt, runs one 512² denoise step and a VAE decode, deletes it,
//     and prints compile time, session/step times and peak RSS (goal ≤ 14 GB on CPU).
import { readFileSync, rmSync } from 'node:fs';
import { buildUnetGraph, isResidualInput, MID_RESIDUAL, residualInput } from '../server/checkpoints/unet-graph.js';
import { DT } from '../server/checkpoints/graph-builder.js';
import { readHeader } from '../server/checkpoints/read-header.js';
import { PrefixSource } from '../server/checkpoints/weights.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { ModelStore } from '../server/models/model-store.js';
import { modelsDirWith } from '../server/checkpoints/single-model-dir.js';
import { writeRandomSdxlCheckpoint } from './random-checkpoint.js';
import { noResiduals } from '../server/sdxl/unet.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.join(ROOT, 'test/fixtures');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Image side of the full-size run (MASKFLOW_BENCH_SIDE, default 512; 1024 is issue 14's goal 5). */
const SIDE = Number(process.env.MASKFLOW_BENCH_SIDE ?? 512);
const gb = (kb: number) => `${(kb / 1024 / 1024).toFixed(2)} GB`;

function store(modelsDir: string, compiledDir: string, threads = 2): ModelStore {
  return new ModelStore({
    modelsDir,
    compiledDir,
    inference: { ep: 'cpu', deviceId: 0, threads, graphOptimization: 'all', outputLocation: 'cpu' },
    sessionCacheBytes: 2 ** 36,
  });
}

function unetFeeds(s: ort.InferenceSession, side: number, channels: number, cross: number, pooled: number, seq = 77): Record<string, ort.Tensor> {
  const h = side / 8;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  return {
    ...noResiduals(s),
    sample: new ort.Tensor('float32', rnd(2 * channels * h * h), [2, channels, h, h]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', rnd(2 * seq * cross), [2, seq, cross]),
    text_embeds: new ort.Tensor('float32', rnd(2 * pooled), [2, pooled]),
    time_ids: new ort.Tensor('float32', Float32Array.from([side, side, 0, 0, side, side, side, side, 0, 0, side, side]), [2, 6]),
  };
}

async function speed(print: (l: string) => void): Promise<void> {
  const single = modelsDirWith(path.join(FIXTURES, 'checkpoints/tiny-sdxl-inpaint.safetensors'));
  const compiledDir = path.join(os.tmpdir(), `maskflow-bench-compiled-${process.pid}`);
  try {
    const compiled = await store(single.modelsDir, compiledDir).getSession({ model: single.name, loras: [], embeddings: [] }, 'unet');
    const optimum = await store(path.join(FIXTURES, 'models'), compiledDir).getSession({ model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] }, 'unet');
    print('| size | Optimum export | compiled checkpoint | ratio |');
    print('|---|---|---|---|');
    for (const side of [512, 1024]) {
      const feeds = unetFeeds(compiled, side, 9, 56, 20);
      const times: Record<string, number[]> = { optimum: [], compiled: [] };
      for (const s of [optimum, compiled]) await s.run(feeds); // warm-up
      const reps = side === 512 ? 7 : 3;
      for (let i = 0; i < reps; i++) {
        // Alternate so drift on a shared machine hits both alike.
        for (const [k, s] of [['optimum', optimum], ['compiled', compiled]] as const) {
          const t0 = performance.now();
          await s.run(feeds);
          times[k]!.push(performance.now() - t0);
        }
      }
      const o = median(times.optimum!);
      const c = median(times.compiled!);
      print(`| ${side}² (latents ${side / 8}², batch 2) | ${o.toFixed(0)} ms | ${c.toFixed(0)} ms | ${(c / o).toFixed(3)}× |`);
    }
  } finally {
    single.cleanup();
    rmSync(compiledDir, { recursive: true, force: true });
  }
}

/** Per-step cost of ControlNet guidance, and of the residual inputs when no ControlNet is used. */
async function controlnetCost(print: (l: string) => void): Promise<void> {
  const single = modelsDirWith(path.join(FIXTURES, 'checkpoints/tiny-sdxl-inpaint.safetensors'));
  const compiledDir = path.join(os.tmpdir(), `maskflow-bench-cn-${process.pid}`);
  try {
    const st = store(single.modelsDir, compiledDir);
    const withInputs = await st.getSession({ model: single.name, loras: [], embeddings: [] }, 'unet');
    // The same UNet without residual inputs, from the diffusers folder's identical weights.
    const dir = path.join(FIXTURES, 'checkpoints/tiny-sdxl-inpaint-diffusers/unet');
    const file = path.join(dir, 'diffusion_pytorch_model.safetensors');
    const header = readHeader(file);
    const g = buildUnetGraph(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')), { floatType: DT.FLOAT, pooledDim: 20 });
    g.resolve(new PrefixSource(file, header.tensors, '', 'unet'), (f) => path.basename(f), 'unet');
    const plain = await ort.InferenceSession.create(g.toBytes(), {
      intraOpNumThreads: 2,
      graphOptimizationLevel: 'all',
      extra: { 'session.model_external_initializers_file_folder_path': dir },
    } as ort.InferenceSession.SessionOptions);
    const cn = await st.controlNet(path.join(FIXTURES, 'controlnet/tiny-controlnet'));
    print('| size | UNet without residual inputs | UNet with residual inputs, no ControlNet | + one ControlNet |');
    print('|---|---|---|---|');
    for (const side of [512, 1024]) {
      const feeds = unetFeeds(withInputs, side, 9, 56, 20);
      const plainFeeds = Object.fromEntries(Object.entries(feeds).filter(([k]) => !isResidualInput(k)));
      const h = side / 8;
      const cnFeeds = {
        sample: new ort.Tensor('float32', new Float32Array(2 * 4 * h * h).fill(0.1), [2, 4, h, h]),
        timestep: feeds.timestep!,
        encoder_hidden_states: feeds.encoder_hidden_states!,
        text_embeds: feeds.text_embeds!,
        time_ids: feeds.time_ids!,
        controlnet_cond: new ort.Tensor('float32', new Float32Array(2 * 3 * side * side).fill(0.5), [2, 3, side, side]),
        conditioning_scale: new ort.Tensor('float32', Float32Array.of(1), [1]),
      };
      const runs = {
        plain: () => plain.run(plainFeeds),
        inputs: () => withInputs.run(feeds),
        controlled: async () => {
          const r = await cn.session.run(cnFeeds);
          const res = Object.fromEntries(Object.entries(r).map(([n, t]) => [n === 'mid_block_res_sample' ? MID_RESIDUAL : residualInput(Number(n.split('.').pop())), t]));
          return withInputs.run({ ...feeds, ...res });
        },
      };
      const times: Record<string, number[]> = { plain: [], inputs: [], controlled: [] };
      for (const f of Object.values(runs)) await f();
      for (let i = 0; i < (side === 512 ? 7 : 3); i++)
        for (const [k, f] of Object.entries(runs)) {
          const t0 = performance.now();
          await f();
          times[k]!.push(performance.now() - t0);
        }
      const [p, i, c] = ['plain', 'inputs', 'controlled'].map((k) => median(times[k]!));
      print(`| ${side}² | ${p!.toFixed(0)} ms | ${i!.toFixed(0)} ms (${(i! / p!).toFixed(3)}×) | ${c!.toFixed(0)} ms (${(c! / i!).toFixed(3)}× the plain step) |`);
    }
  } finally {
    single.cleanup();
    rmSync(compiledDir, { recursive: true, force: true });
  }
}

async function realSize(print: (l: string) => void): Promise<void> {
  const dir = path.join(os.tmpdir(), `maskflow-bench-sdxl-${process.pid}`);
  const compiledDir = path.join(dir, 'compiled');
  try {
    let t0 = performance.now();
    const file = await writeRandomSdxlCheckpoint(path.join(dir, 'sdxl-inpaint-random.fp16.safetensors'));
    print(`wrote ${path.basename(file.path)}: ${(file.bytes / 2 ** 30).toFixed(2)} GiB, ${file.tensors} tensors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const single = modelsDirWith(file.path);
    const s = store(single.modelsDir, compiledDir);
    const ref = { model: single.name, loras: [], embeddings: [] };
    t0 = performance.now();
    const c = s.catalog.compile(single.name);
    print(`compile: ${(performance.now() - t0).toFixed(0)} ms (${c.manifest.params.toLocaleString('en')} parameters, ${c.manifest.copied.length} files copied)`);
    const rss = () => gb(process.resourceUsage().maxRSS);
    const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const r = await fn();
      print(`${label}: ${((performance.now() - t) / 1000).toFixed(1)} s (peak RSS so far ${rss()})`);
      return r;
    };
    const te1 = await timed('text_encoder session', () => s.getSession(ref, 'text_encoder'));
    const te2 = await timed('text_encoder_2 session', () => s.getSession(ref, 'text_encoder_2'));
    const ids = Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 5 ? 320 + i : 49407));
    await timed('encode prompt (both encoders)', async () => {
      await te1.run({ input_ids: new ort.Tensor('int32', Int32Array.from(ids), [1, 77]) });
      await te2.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, 77]) });
    });
    s.releaseTextEncoders(single.name);
    s.pool.release(`${single.name}/text_encoder_2`);
    const unet = await timed('unet session (fp16 weights cast to fp32 at load)', () => s.getSession(ref, 'unet'));
    await timed(`first denoise step, ${SIDE}² (CFG batch 2)`, () => unet.run(unetFeeds(unet, SIDE, 9, 2048, 1280)));
    s.pool.release(`${single.name}/unet`);
    const vae = await timed('vae_decoder session', () => s.getSession(ref, 'vae_decoder'));
    const h = SIDE / 8;
    await timed(`VAE decode ${SIDE}²`, () => vae.run({ latent_sample: new ort.Tensor('float32', new Float32Array(4 * h * h).fill(0.1), [1, 4, h, h]) }));
    print(`**peak RSS: ${rss()}** (goal ≤ 14 GB at 512², ≤ 16 GB at 1024²)`);
    single.cleanup();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function run(print: (l: string) => void): Promise<void> {
  print('### compiled tiny UNet vs the Optimum export of the same weights (2 threads, median)');
  await speed(print);
  print('\n### ControlNet: cost per step (tiny models, CFG batch 2, median)');
  await controlnetCost(print);
  if (process.argv[2] !== 'checkpoint') {
    print('\n(full-size checkpoint bench: `npm run bench -- checkpoint`; it writes ~7 GB and needs ~14 GB of memory)');
    return;
  }
  print('\n### full-size SDXL 1.0 inpainting checkpoint (random weights, fp16, SGM keys)');
  await realSize(print);
}
