// Checkpoints compiled by maskflow's graph builder (printed, never asserted):
//  1. speed: the compiled tiny UNet against the Optimum export of the same weights, same run,
//     512² and 1024² (CFG batch 2), as a ratio (goal: compiled ≤ 1.0× the export's time);
//  2. real size (`npm run bench -- checkpoint` only): writes a random-weight full-size SDXL 1.0
//     inpainting checkpoint (standard architecture, fp16, SGM keys, ~7 GB) to a temp folder,
//     compiles it, encodes a prompt, runs one 512² denoise step and a VAE decode, deletes it,
//     and prints compile time, session/step times and peak RSS (goal ≤ 14 GB on CPU).
import { rmSync } from 'node:fs';
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
    await timed('first denoise step, 512² (CFG batch 2)', () => unet.run(unetFeeds(unet, 512, 9, 2048, 1280)));
    s.pool.release(`${single.name}/unet`);
    const vae = await timed('vae_decoder session', () => s.getSession(ref, 'vae_decoder'));
    await timed('VAE decode 512²', () => vae.run({ latent_sample: new ort.Tensor('float32', new Float32Array(4 * 64 * 64).fill(0.1), [1, 4, 64, 64]) }));
    print(`**peak RSS: ${rss()}** (goal ≤ 14 GB)`);
    single.cleanup();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function run(print: (l: string) => void): Promise<void> {
  print('### compiled tiny UNet vs the Optimum export of the same weights (2 threads, median)');
  await speed(print);
  if (process.argv[2] !== 'checkpoint') {
    print('\n(full-size checkpoint bench: `npm run bench -- checkpoint`; it writes ~7 GB and needs ~14 GB of memory)');
    return;
  }
  print('\n### full-size SDXL 1.0 inpainting checkpoint (random weights, fp16, SGM keys)');
  await realSize(print);
}
