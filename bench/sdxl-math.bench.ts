// Tokenizer / torch-randn / scheduler figures (targets: tokenizer load < 300 ms cold, randn 2x4x128x128
// < 50 ms, one scheduler step on 2x4x128x128 latents < 10 ms).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TorchGenerator } from '../server/sdxl/rng.js';
import { createScheduler, type SchedulerConfig } from '../server/sdxl/schedulers/index.js';
import { ClipTokenizer } from '../server/sdxl/tokenizer.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const model = path.join(root, 'test/fixtures/models/tiny-sdxl-inpaint');

function time(fn: () => void, reps: number): number {
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}

export default async function (print: (line: string) => void): Promise<void> {
  let t0 = performance.now();
  const tok = await ClipTokenizer.fromDir(path.join(model, 'tokenizer'));
  print(`tokenizer load (cold, parses vocab + merges): ${(performance.now() - t0).toFixed(1)} ms`);
  t0 = performance.now();
  await ClipTokenizer.fromDir(path.join(model, 'tokenizer_2'));
  print(`tokenizer_2 load (tables shared by content hash): ${(performance.now() - t0).toFixed(1)} ms`);
  const prompt = 'A highly detailed digital painting of an ancient castle on a cliff above a stormy sea, dramatic lighting';
  tok.encode(prompt);
  print(`encode (77 ids, cached words): ${(time(() => tok.encode(prompt), 200) * 1000).toFixed(0)} µs`);

  new TorchGenerator(0).randn([2, 4, 128, 128]);
  print(`randn 2x4x128x128: ${time(() => new TorchGenerator(1).randn([2, 4, 128, 128]), 5).toFixed(1)} ms`);

  const config = JSON.parse(await readFile(path.join(model, 'scheduler/scheduler_config.json'), 'utf8')) as SchedulerConfig;
  const n = 2 * 4 * 128 * 128;
  const lat = new TorchGenerator(2).randn([n]);
  const eps = new TorchGenerator(3).randn([n]);
  const buf = new Float32Array(n);
  for (const name of ['euler', 'euler_ancestral', 'dpmpp_2m_karras', 'ddim'] as const) {
    const s = createScheduler(name, config);
    s.setTimesteps(30);
    const rng = new TorchGenerator(4);
    let i = 0;
    const ms = time(() => {
      const t = s.timesteps[i++];
      s.scaleModelInput(lat, t, buf);
      s.step(eps, t, lat, rng, lat);
    }, 20);
    print(`${name} scaleModelInput + step on 2x4x128x128: ${ms.toFixed(2)} ms`);
  }
}
