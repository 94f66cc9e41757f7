import { describe, expect, it, beforeAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadOnnxModel, parseOnnxModel, readInitializerFloat32, DT_FLOAT, DT_FLOAT16, type OnnxModel } from '../../server/models/onnx-graph.js';
import { moduleWeights } from '../../server/models/onnx-modules.js';
import { patchOnnxModel } from '../../server/models/onnx-patch.js';
import { f16ToF32, f32ToF16 } from '../../server/models/half.js';
import { buildModel } from './helpers/tiny-onnx.js';

const FIX = path.resolve('test/fixtures');
const COMPONENTS = ['unet', 'text_encoder', 'text_encoder_2'] as const;

describe('ONNX graph reading', () => {
  it.each(['tiny-sdxl-inpaint', 'tiny-sdxl-base'])('finds every linear/conv weight of %s exactly as onnx_weight_maps says', async (name) => {
    const maps = JSON.parse(await readFile(path.join(FIX, 'onnx_weight_maps', `${name}.json`), 'utf8'));
    for (const c of COMPONENTS) {
      const model = await loadOnnxModel(path.join(FIX, 'models', name, c, 'model.onnx'));
      const weights = moduleWeights(model);
      // Every weight found agrees with the map (initializer and layout) ...
      for (const w of weights.values()) {
        const e = maps[c][`${w.module}.weight`];
        expect(e, `${c} ${w.module}`).toBeDefined();
        expect(w.initializer).toBe(e.initializer);
        expect(w.layout).toBe(e.layout);
      }
      // ... and every transposed (MatMul) or conv weight of the map is found.
      let checked = 0;
      for (const [param, e] of Object.entries<{ initializer: string; layout: string }>(maps[c])) {
        const dims = model.initializers.get(e.initializer)!.dims;
        if (!param.endsWith('.weight') || !(e.layout === 'transposed' || dims.length === 4)) continue;
        expect(weights.get(param.slice(0, -'.weight'.length))?.initializer, param).toBe(e.initializer);
        checked++;
      }
      expect(checked).toBeGreaterThan(c === 'unet' ? 200 : 15);
    }
  });
});

describe('ONNX patching', () => {
  let model: OnnxModel;
  let base: Float32Array;
  const ids = () => new ort.Tensor('int32', Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 4 ? 320 + i : 49407)), [1, 77]);
  const run = async (bytes: Uint8Array, externalData?: { path: string; data: Uint8Array }[]) => {
    const s = await ort.InferenceSession.create(bytes, externalData?.length ? { externalData } : {});
    const out = (await s.run({ input_ids: ids() })).last_hidden_state!.data as Float32Array;
    await s.release();
    return out;
  };
  beforeAll(async () => {
    model = await loadOnnxModel(path.join(FIX, 'models/tiny-sdxl-inpaint/text_encoder/model.onnx'));
    base = await run(model.bytes);
  });

  it.each(['inline', 'external'] as const)('copies the graph verbatim and replaces initializers (%s)', async (mode) => {
    const w = moduleWeights(model).get('text_model.encoder.layers.1.mlp.fc1')!;
    const values = await readInitializerFloat32(model, w.initializer);
    const same = patchOnnxModel(model, new Map([[w.initializer, { dims: w.shape.slice().reverse(), dataType: DT_FLOAT, data: new Uint8Array(values.buffer) }]]), { mode });
    expect(same.externalData.length).toBe(mode === 'external' ? 1 : 0);
    expect(Array.from(await run(same.modelBytes, same.externalData))).toEqual(Array.from(base));
    // The rewritten model parses back with the replacement where the original was.
    const reparsed = parseOnnxModel(same.modelBytes, model.dir);
    expect([...reparsed.initializers.keys()]).toEqual([...model.initializers.keys()]);
    expect(reparsed.nodes.length).toBe(model.nodes.length);
    const doubled = values.map((v) => v * 2);
    const changed = patchOnnxModel(model, new Map([[w.initializer, { dims: w.shape.slice().reverse(), dataType: DT_FLOAT, data: new Uint8Array(doubled.buffer) }]]), { mode });
    const out = await run(changed.modelBytes, changed.externalData);
    expect(out.some((v, i) => Math.abs(v - base[i]!) > 1e-3)).toBe(true);
  });

  it('reads and patches float16 weights; Gemm with transB keeps PyTorch layout', async () => {
    const [inn, out, out2] = [6, 5, 3];
    const w = Float32Array.from({ length: inn * out }, (_, i) => Math.sin(i) * 0.5); // [in, out] for MatMul
    const g = Float32Array.from({ length: out2 * out }, (_, i) => Math.cos(i) * 0.5); // [out2, out] for Gemm transB
    const bytes = buildModel({
      nodes: [
        { name: '/lin/MatMul', op: 'MatMul', inputs: ['x', 'onnx::MatMul_7'], outputs: ['h'] },
        { name: '/cast/Cast', op: 'Cast', inputs: ['h'], outputs: ['h32'], ints: { to: 1 } },
        { name: '/proj/Gemm', op: 'Gemm', inputs: ['h32', 'proj.weight'], outputs: ['y'], ints: { transB: 1 } },
      ],
      initializers: [
        { name: 'onnx::MatMul_7', dims: [inn, out], dataType: DT_FLOAT16, data: new Uint8Array(Uint16Array.from(w, f32ToF16).buffer) },
        { name: 'proj.weight', dims: [out2, out], dataType: DT_FLOAT, data: new Uint8Array(g.buffer) },
      ],
      inputs: [{ name: 'x', elemType: DT_FLOAT16, dims: [1, inn] }],
      outputs: [{ name: 'y', elemType: DT_FLOAT, dims: [1, out2] }],
    });
    const m = parseOnnxModel(bytes, '/nonexistent');
    const mods = moduleWeights(m);
    expect(mods.get('lin')).toMatchObject({ initializer: 'onnx::MatMul_7', layout: 'transposed', shape: [out, inn], dataType: DT_FLOAT16 });
    expect(mods.get('proj')).toMatchObject({ initializer: 'proj.weight', layout: 'same', shape: [out2, out], dataType: DT_FLOAT });
    const read = await readInitializerFloat32(m, 'onnx::MatMul_7');
    for (let i = 0; i < w.length; i++) expect(read[i]).toBe(f16ToF32(f32ToF16(w[i]!)));
    const session = await ort.InferenceSession.create(bytes);
    const x = Float32Array.from({ length: inn }, (_, i) => (i - 2) / 3);
    const y = (await session.run({ x: new ort.Tensor('float16', Uint16Array.from(x, f32ToF16), [1, inn]) })).y!.data as Float32Array;
    // Reference in JS: y = (x @ W) @ Gᵀ with fp16 rounding of x, W and h.
    const xh = Array.from(x, (v) => f16ToF32(f32ToF16(v)));
    const h = Array.from({ length: out }, (_, o) => f16ToF32(f32ToF16(xh.reduce((a, xv, i) => a + xv * read[i * out + o]!, 0))));
    for (let k = 0; k < out2; k++) expect(y[k]).toBeCloseTo(h.reduce((a, hv, o) => a + hv * g[k * out + o]!, 0), 2);
  });
});
