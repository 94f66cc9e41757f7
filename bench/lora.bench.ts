// LoRA merge + session creation on the tiny model, and the merge kernel on SDXL-sized
// layers (the figures docs/lora.md extrapolates from). Prints figures, asserts nothing.
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { AdapterPatcher } from '../server/models/adapter-patcher.js';
import { ModelSources } from '../server/models/model-sources.js';
import { jsKernel, OrtMergeKernel } from '../server/models/merge-kernel.js';
import { DT_FLOAT16 } from '../server/models/onnx-graph.js';
import type { ModelInfo } from '../server/models/catalog.js';
import type { ModelRef } from '../server/models/refs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(ROOT, 'test/fixtures');
const MODEL = path.join(FIX, 'models/tiny-sdxl-inpaint');

const ms = (t0: number) => (performance.now() - t0).toFixed(1);

export default async function bench(print: (line: string) => void): Promise<void> {
  const cacheDir = path.join(os.tmpdir(), `maskflow-lora-bench-${process.pid}`);
  const sources = new ModelSources({ modelsDir: path.join(FIX, 'models'), cacheDir, urlAllowlist: [], maxBytes: 2 ** 30, timeoutMs: 1000, maxRedirects: 0 });
  const lora = path.join(FIX, 'lora/tinylora_kohya.safetensors');
  const { sha256 } = await sources.registerFile(lora);
  const ref: ModelRef = { model: 'tiny-sdxl-inpaint', loras: [{ source: lora, sha256, strengthModel: 0.8, strengthClip: 0.8 }], embeddings: [] };
  const info = { name: 'tiny-sdxl-inpaint', dir: MODEL } as ModelInfo;
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, graphOptimizationLevel: 'all' };
  print('tiny model (rank-4 LoRA, 236 layers), 1 ORT thread:');
  for (const component of ['unet', 'text_encoder', 'text_encoder_2'] as const) {
    const patcher = new AdapterPatcher(sources, { cacheDir, modelDir: () => MODEL });
    const file = path.join(MODEL, component, 'model.onnx');
    let t0 = performance.now();
    const baseSession = await ort.InferenceSession.create(file, opts);
    const baseMs = ms(t0);
    await baseSession.release();
    // First build includes parsing the graph and enumerating modules; the second reuses the module map.
    t0 = performance.now();
    const src = await patcher.build(ref, component, { info, component, path: file });
    const buildMs = ms(t0);
    t0 = performance.now();
    const s = await ort.InferenceSession.create(src.bytes!, { ...opts, externalData: src.externalData! });
    const sessionMs = ms(t0);
    await s.release();
    t0 = performance.now();
    await patcher.build(ref, component, { info, component, path: file });
    const rebuildMs = ms(t0);
    const r = patcher.builds[0]!;
    print(
      `  ${component.padEnd(15)} ${String(r.layers).padStart(3)} layers / ${String(r.tensors).padStart(3)} tensors: merge+patch ${buildMs} ms (again ${rebuildMs} ms), ` +
        `session from merged ${sessionMs} ms (plain session ${baseMs} ms), ${(src.sizeBytes! / 2 ** 20).toFixed(1)} MiB`,
    );
  }

  // SDXL-sized layers: the merge kernel dominates for real models.
  const ortKernel = await OrtMergeKernel.create(0);
  print('merge kernel on SDXL-sized fp16 layers (decode fp16 -> + delta -> encode fp16):');
  for (const [out, inn, rank, label] of [
    [1280, 1280, 32, 'to_q 1280x1280'],
    [10240, 1280, 32, 'ff.net.0.proj 10240x1280'],
    [640, 640, 32, 'to_k 640x640'],
  ] as const) {
    const w16 = await ortKernel.encode(new Float32Array(out * inn).fill(0.01), DT_FLOAT16);
    const up = Float32Array.from({ length: out * rank }, (_, i) => Math.sin(i) * 0.01);
    const down = Float32Array.from({ length: rank * inn }, (_, i) => Math.cos(i) * 0.01);
    const cells: string[] = [];
    for (const [name, k] of [['js', jsKernel], ['ort', ortKernel]] as const) {
      // Best of 3 (the first run also warms up ORT's allocator for the shape).
      let [t0, t1, t2, t3] = [0, Infinity, Infinity, Infinity];
      for (let rep = 0; rep < 3; rep++) {
        const a = performance.now();
        const w = await k.decode(w16, DT_FLOAT16);
        const b = performance.now();
        const merged = await k.addDelta(w, { layout: 'transposed', shape: [out, inn] }, up, down, rank, 0.5);
        const c = performance.now();
        await k.encode(merged, DT_FLOAT16);
        const d = performance.now();
        if (d - a < t3 - t0) [t0, t1, t2, t3] = [a, b, c, d];
      }
      const gmacs = (out * inn * rank) / ((t2 - t1) / 1000) / 1e9;
      cells.push(`${name}: ${(t3 - t0).toFixed(0)} ms (delta ${(t2 - t1).toFixed(0)} ms = ${gmacs.toFixed(2)} GMAC/s, casts ${(t1 - t0 + t3 - t2).toFixed(0)} ms)`);
    }
    print(`  ${label.padEnd(26)} rank ${rank}: ${cells.join('; ')}`);
  }
  await ortKernel.release();
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  await bench((l) => process.stdout.write(`${l}\n`));
}
