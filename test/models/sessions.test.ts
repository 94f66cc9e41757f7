import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOnnxModel, readInitializerBytes } from '../../server/models/onnx-graph.js';
import { patchOnnxModel, type TensorReplacement } from '../../server/models/onnx-patch.js';
import { SessionPool, type ComponentPatcher } from '../../server/models/sessions.js';
import { f16ToF32, f32ToF16, floatInput, fromHalf, numericInput, timestepInput, toHalf } from '../../server/models/ort-io.js';
import type { InferenceOptions } from '../../server/models/inference-options.js';
import { MODELS_DIR, maxAbsDiff } from '../sdxl/golden-io.js';
import { testStore } from '../sdxl/helpers.js';

const CPU: InferenceOptions = { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' };
const DECODER = path.join(MODELS_DIR, 'tiny-sdxl-base/vae_decoder/model.onnx');
const ENCODER = path.join(MODELS_DIR, 'tiny-sdxl-base/vae_encoder/model.onnx');
const tmp = mkdtempSync(path.join(tmpdir(), 'maskflow-sessions-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function decode(session: ort.InferenceSession): Promise<Float32Array> {
  const z = Float32Array.from({ length: 4 * 4 * 4 }, (_, i) => Math.sin(i));
  const out = await session.run({ latent_sample: new ort.Tensor('float32', z, [1, 4, 4, 4]) });
  return out.sample!.data as Float32Array;
}

/** The decoder with every initializer moved to external data (as >2 GB exports are). */
async function externalised(): Promise<{ modelBytes: Uint8Array; externalData: { path: string; data: Uint8Array }[] }> {
  const model = await loadOnnxModel(DECODER);
  const repl = new Map<string, TensorReplacement>();
  for (const [name, t] of model.initializers) {
    if (t.dataType !== 1 || t.dims.length === 0) continue;
    repl.set(name, { dims: t.dims, dataType: t.dataType, data: await readInitializerBytes(model, t) });
  }
  return patchOnnxModel(model, repl, { mode: 'external', prefix: 'model.onnx_data' });
}

describe('SessionPool', () => {
  it('creates a session once and reuses it', async () => {
    const pool = new SessionPool(CPU, 1e9);
    let built = 0;
    const src = async () => (built++, { path: DECODER });
    const a = await pool.get('m/vae_decoder', src, 100);
    const b = await pool.get('m/vae_decoder', src, 100);
    expect(a).toBe(b);
    expect(built).toBe(1);
    expect(pool.stats()).toMatchObject({ loads: 1, hits: 1, bytes: 100, effectiveEp: 'cpu' });
  });

  it('evicts least recently used sessions beyond the byte bound', async () => {
    const pool = new SessionPool(CPU, 150);
    await pool.get('a', async () => ({ path: DECODER }), 100);
    await pool.get('b', async () => ({ path: ENCODER }), 100);
    expect(pool.has('a')).toBe(false);
    expect(pool.has('b')).toBe(true);
    expect(pool.stats().bytes).toBe(100);
    expect(pool.release('b')).toBe(1);
    expect(pool.stats().sessions).toEqual([]);
  });

  it('falls back to CPU (and says why) when CUDA cannot be used', async () => {
    const pool = new SessionPool({ ...CPU, ep: 'cuda' }, 1e9);
    const s = await pool.get('m/vae_decoder', async () => ({ path: DECODER }), 1);
    expect((await decode(s)).length).toBe(3 * 32 * 32);
    const st = pool.stats();
    expect(st.requestedEp).toBe('cuda');
    // Either this build has a working CUDA provider, or we fell back with a reason.
    if (st.effectiveEp === 'cpu') expect(st.fallbackReason).toBeTruthy();
  });

  it('loads models whose weights are external data, from files and from bytes', async () => {
    const plain = await decode(await ort.InferenceSession.create(DECODER));
    const ext = await externalised();
    expect(ext.externalData.length).toBeGreaterThan(0);
    const dir = path.join(tmp, 'vae_decoder');
    rmSync(dir, { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(dir, { recursive: true }));
    writeFileSync(path.join(dir, 'model.onnx'), ext.modelBytes);
    for (const f of ext.externalData) writeFileSync(path.join(dir, f.path), f.data);
    expect(readdirSync(dir).length).toBeGreaterThan(1);
    const pool = new SessionPool(CPU, 1e9);
    const fromFile = await pool.get('file', async () => ({ path: path.join(dir, 'model.onnx') }), 1);
    expect(maxAbsDiff(await decode(fromFile), plain)).toBe(0);
    const fromBytes = await pool.get('bytes', async () => ({ bytes: ext.modelBytes, externalData: ext.externalData }), 1);
    expect(maxAbsDiff(await decode(fromBytes), plain)).toBe(0);
  });
});

describe('ModelStore patcher hook', () => {
  it('asks the patcher for refs with LoRAs and keeps the plain session for others', async () => {
    const store = testStore();
    const calls: string[] = [];
    const patcher: ComponentPatcher = {
      variantKey: (ref, component) => (component === 'vae_decoder' ? `lora:${ref.loras.map((l) => l.source).join(',')}` : ''),
      build: async (_ref, component, base) => {
        calls.push(component);
        const ext = await externalised();
        expect(base.path).toContain(path.join('tiny-sdxl-base', 'vae_decoder'));
        return { bytes: ext.modelBytes, externalData: ext.externalData, sizeBytes: 5 };
      },
      extendTokenizers: async () => {
        calls.push('tokenizers');
      },
    };
    store.setPatcher(patcher);
    const plainRef = { model: 'tiny-sdxl-base', loras: [], embeddings: [] };
    const loraRef = { ...plainRef, loras: [{ source: 'x.safetensors', strengthModel: 1, strengthClip: 1 }] };
    const plain = await store.getSession(plainRef, 'vae_decoder');
    const patched = await store.getSession(loraRef, 'vae_decoder');
    expect(patched).not.toBe(plain);
    expect(await store.getSession(loraRef, 'vae_decoder')).toBe(patched);
    // Components the patcher leaves alone share the plain session.
    expect(await store.getSession(loraRef, 'vae_encoder')).toBe(await store.getSession(plainRef, 'vae_encoder'));
    expect(calls).toEqual(['vae_decoder']);
    expect(store.stats().sessions.map((s) => s.key)).toContain('tiny-sdxl-base/vae_decoder#lora:x.safetensors');
    // Tokenizers: the plain ones are shared, the patcher extends separate instances.
    const t1 = await store.getTokenizers(plainRef);
    expect(await store.getTokenizers({ ...plainRef })).toBe(t1);
  });
});

describe('ORT I/O dtypes', () => {
  it('converts float16 like numpy (round to nearest even, subnormals, inf)', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(toHalf(2 ** -24)).toBe(1);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(fromHalf(0x3555)).toBeCloseTo(0.333251953125, 12);
    const x = Float32Array.from([0.1, -3.25, 1234.5, 1e-5, 0]);
    const back = f16ToF32(f32ToF16(x));
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11 + 2 ** -25);
  });

  it('builds inputs in the declared type and shape', () => {
    const f16 = floatInput({ name: 's', type: 'float16', shape: [1] }, Float32Array.from([1, 2]), [2]);
    expect(f16.type).toBe('float16');
    expect(Array.from(f16.data as Uint16Array)).toEqual([0x3c00, 0x4000]);
    expect(numericInput({ name: 'ids', type: 'int32', shape: ['b', 's'] }, [1, 2], [1, 2]).type).toBe('int32');
    expect(numericInput({ name: 'ids', type: 'int64', shape: ['b', 's'] }, [49407], [1, 1]).data).toEqual(BigInt64Array.from([49407n]));
    // Timesteps: int64 [steps] -> one per batch row; float scalar; fixed [1].
    expect(timestepInput({ name: 't', type: 'int64', shape: ['steps'] }, 999, 2).dims).toEqual([2]);
    const scalar = timestepInput({ name: 't', type: 'float32', shape: [] }, 981, 2);
    expect(scalar.dims).toEqual([]);
    expect(scalar.data).toEqual(Float32Array.from([981]));
    expect(timestepInput({ name: 't', type: 'float16', shape: [1] }, 1, 2).dims).toEqual([1]);
  });
});
