import { describe, expect, it, beforeAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadOnnxModel, decodeFloat32, readInitializerBytes, type OnnxModel } from '../../server/models/onnx-graph.js';
import { moduleWeights } from '../../server/models/onnx-modules.js';
import { SafetensorsFile } from '../../server/models/safetensors.js';
import { planLora, type ComponentModules } from '../../server/models/lora.js';
import { mergeLoras } from '../../server/models/merge.js';
import { jsKernel, OrtMergeKernel, type MergeKernel } from '../../server/models/merge-kernel.js';
import { DT_FLOAT16 } from '../../server/models/onnx-graph.js';
import { f16ToF32, f32ToF16 } from '../../server/models/half.js';
import { LORA_COMPONENTS, type LoraComponent } from '../../server/models/lora-keys.js';

const FIX = path.resolve('test/fixtures');
const MODEL = path.join(FIX, 'models/tiny-sdxl-inpaint');
const LORA = path.join(FIX, 'lora');

const models = {} as Record<LoraComponent, OnnxModel>;
const modules = {} as ComponentModules;
const kernels: Record<string, MergeKernel> = { js: jsKernel };
beforeAll(async () => {
  kernels.ort = await OrtMergeKernel.create(1);
  for (const c of LORA_COMPONENTS) {
    models[c] = await loadOnnxModel(path.join(MODEL, c, 'model.onnx'));
    modules[c] = moduleWeights(models[c]);
  }
});

async function f32(file: string): Promise<Float32Array> {
  const b = await readFile(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Stored-layout values back to PyTorch layout [out, in...]. */
function toTorch(values: Float32Array, layout: string, shape: number[]): Float32Array {
  if (layout === 'same') return values;
  const [out, inn] = shape as [number, number];
  const r = new Float32Array(values.length);
  for (let i = 0; i < inn; i++) for (let o = 0; o < out; o++) r[o * inn + i] = values[i * out + o]!;
  return r;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe.each(['kohya', 'peft'])('tiny LoRA (%s keys)', (format) => {
  it('matches all 236 layers of the three components', async () => {
    const file = await SafetensorsFile.open(path.join(LORA, `tinylora_${format}.safetensors`));
    const plan = planLora(file, format, modules);
    await file.close();
    expect(plan.unmatched).toEqual([]);
    expect(plan.matches.length).toBe(236);
    expect(plan.perComponent).toEqual({ unet: 194, text_encoder: 18, text_encoder_2: 24 });
  });

  it.each(['js', 'ort'])('reproduces the merge samples (before/after) within 1e-6 (%s kernel)', async (kernelName) => {
    const info = JSON.parse(await readFile(path.join(LORA, 'tinylora_info.json'), 'utf8'));
    const file = await SafetensorsFile.open(path.join(LORA, `tinylora_${format}.safetensors`));
    const plan = planLora(file, format, modules);
    for (const [id, sample] of Object.entries<any>(info.merge_samples)) {
      const [component, module] = id.split(':') as [LoraComponent, string];
      const weight = modules[component].get(module)!;
      expect(weight, id).toBeDefined();
      const t = models[component].initializers.get(weight.initializer)!;
      const before = toTorch(decodeFloat32(await readInitializerBytes(models[component], t), t.dataType), weight.layout, weight.shape);
      expect(maxDiff(before, await f32(path.join(LORA, 'tinylora_merge_samples', sample.before.file)))).toBe(0);
      // Merge only this module's layer so the sample stays cheap.
      const one = { ...plan, matches: plan.matches.filter((m) => m.address.component === component && m.address.module === module) };
      expect(one.matches.length).toBe(1);
      const merged = [];
      for await (const r of mergeLoras(models[component], component, [{ file, plan: one, strength: info.strength }], undefined, undefined, kernels[kernelName])) merged.push(r);
      expect(merged.length).toBe(1);
      const [name, rep] = merged[0]!;
      expect(name).toBe(weight.initializer);
      const after = toTorch(decodeFloat32(rep.data!, rep.dataType), weight.layout, weight.shape);
      const expected = await f32(path.join(LORA, 'tinylora_merge_samples', sample.after.file));
      expect(maxDiff(after, expected), id).toBeLessThan(1e-6);
      expect(maxDiff(after, before), id).toBeGreaterThan(1e-3);
    }
    await file.close();
  });
});

describe('merge kernels', () => {
  it('ORT and JS agree on fp16 conversion (round to nearest even) and on deltas', async () => {
    const vals = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 0.37) * 10 ** ((i % 9) - 5));
    const [a, b] = await Promise.all([jsKernel.encode(vals, DT_FLOAT16), kernels.ort!.encode(vals, DT_FLOAT16)]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const bits = new Uint8Array(Uint16Array.from({ length: 0x7c00 }, (_, i) => i).buffer);
    const [x, y] = await Promise.all([jsKernel.decode(bits, DT_FLOAT16), kernels.ort!.decode(bits, DT_FLOAT16)]);
    expect(Array.from(x)).toEqual(Array.from(y));
    expect(x[0x3c00]).toBe(1);
    expect(f16ToF32(f32ToF16(0.1))).toBe(x[f32ToF16(0.1)]);
    for (const layout of ['same', 'transposed'] as const) {
      const [out, inn, r] = [7, 5, 3];
      const w = Float32Array.from({ length: out * inn }, (_, i) => Math.cos(i));
      const up = Float32Array.from({ length: out * r }, (_, i) => Math.sin(i + 1));
      const down = Float32Array.from({ length: r * inn }, (_, i) => Math.sin(i * 2));
      const j = await jsKernel.addDelta(w.slice(), { layout, shape: [out, inn] }, up, down, r, 0.3);
      const o = await kernels.ort!.addDelta(w.slice(), { layout, shape: [out, inn] }, up, down, r, 0.3);
      for (let i = 0; i < j.length; i++) expect(Math.abs(j[i]! - o[i]!)).toBeLessThan(1e-6);
    }
  });
});
