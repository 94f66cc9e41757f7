// LoRA sources (models folder, uploads, URLs with the SSRF-safe fetcher and a content-hash
// cache), format coverage (SGM block names, stacking), bad files, and merged models of
// external-data (>2 GB layout) models.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ModelSources } from '../../server/models/model-sources.js';
import { AdapterPatcher } from '../../server/models/adapter-patcher.js';
import { SafetensorsFile, encodeSafetensors } from '../../server/models/safetensors.js';
import { planLora, type ComponentModules } from '../../server/models/lora.js';
import { sgmNameMap } from '../../server/models/lora-keys.js';
import { mergeLoras } from '../../server/models/merge.js';
import { loadOnnxModel, readInitializerBytes, decodeFloat32 } from '../../server/models/onnx-graph.js';
import { patchOnnxModel } from '../../server/models/onnx-patch.js';
import { NodeError } from '../../server/engine/errors.js';
import type { FileStore } from '../../server/engine/context.js';
import type { ModelInfo } from '../../server/models/catalog.js';
import { buildModel } from './helpers/tiny-onnx.js';
import { DT_FLOAT16 } from '../../server/models/onnx-graph.js';
import { f16ToF32, f32ToF16 } from '../../server/models/half.js';

const FIX = path.resolve('test/fixtures');
const MODEL_DIR = path.join(FIX, 'models/tiny-sdxl-inpaint');
const KOHYA = path.join(FIX, 'lora/tinylora_kohya.safetensors');

let tmp: string;
let modelsDir: string;
let server: http.Server;
let port = 0;
let hits = 0;

function sources(allowlist: string[] = []): ModelSources {
  return new ModelSources({ modelsDir, cacheDir: path.join(tmp, 'cache'), urlAllowlist: allowlist, maxBytes: 10 * 2 ** 20, timeoutMs: 5000, maxRedirects: 2 });
}

function patcher(src = sources()): AdapterPatcher {
  return new AdapterPatcher(src, { cacheDir: path.join(tmp, 'cache'), modelDir: () => MODEL_DIR });
}

async function rejection(p: Promise<unknown>): Promise<NodeError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NodeError);
  return err as NodeError;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mf-lora-'));
  modelsDir = path.join(tmp, 'models');
  await mkdir(path.join(modelsDir, 'loras', 'styles'), { recursive: true });
  await copyFile(KOHYA, path.join(modelsDir, 'loras', 'styles', 'tiny.safetensors'));
  await writeFile(path.join(modelsDir, 'loras', 'corrupt.safetensors'), Uint8Array.from([200, 0, 0, 0, 0, 0, 0, 0, 123, 34]));
  const body = await readFile(KOHYA);
  server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/tiny.safetensors') res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(tmp, { recursive: true, force: true });
});

describe('LoRA sources', () => {
  it('resolves names in the loras folder (with or without extension) and hashes them', async () => {
    const s = sources();
    const a = await s.resolve('lora', 'styles/tiny.safetensors');
    const b = await s.resolve('lora', 'styles/tiny');
    expect(a.path).toBe(b.path);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(s.pathOf(a.sha256)).toBe(a.path);
    expect((await rejection(s.resolve('lora', '../loras/styles/tiny'))).code).toBe('invalid_param');
    expect((await rejection(s.resolve('lora', '/etc/passwd'))).code).toBe('invalid_param');
    const missing = await rejection(s.resolve('lora', 'nope'));
    expect(missing.code).toBe('lora_not_found');
    expect(missing.details.param).toBe('lora');
  });

  it('resolves uploaded file ids through the file store', async () => {
    const files: FileStore = { save: async () => { throw new Error('unused'); }, read: async () => undefined, pathOf: async (id) => (id === 'upl0ad1d0000000000000000' ? KOHYA : undefined) };
    const r = await sources().resolve('lora', 'upl0ad1d0000000000000000', { files });
    expect(r.origin).toBe('upload');
    expect(r.path).toBe(KOHYA);
    expect((await sources().resolve('lora', 'upload:upl0ad1d0000000000000000', { files })).path).toBe(KOHYA);
    expect((await rejection(sources().resolve('lora', 'upload:unknownid000000000000', { files }))).code).toBe('lora_not_found');
  });

  it('downloads a URL once and serves the second request from the content-hash cache', async () => {
    hits = 0;
    const s = sources(['127.0.0.1']);
    const url = `http://127.0.0.1:${port}/tiny.safetensors`;
    const a = await s.resolve('lora', url);
    expect(a.origin).toBe('url');
    expect(a.path).toBe(path.join(tmp, 'cache', 'loras', `${a.sha256}.safetensors`));
    const b = await s.resolve('lora', url);
    const c = await sources(['127.0.0.1']).resolve('lora', url); // a new worker: cache on disk
    expect(b.sha256).toBe(a.sha256);
    expect(c.origin).toBe('cache');
    expect(hits).toBe(1);
    expect(s.fetches).toBe(1);
  });

  it('refuses a LoRA URL to a private address unless allow-listed', async () => {
    hits = 0;
    const err = await rejection(sources().resolve('lora', `http://127.0.0.1:${port}/tiny.safetensors`));
    expect(err.code).toBe('url_private_address');
    expect(err.message).toMatch(/127\.0\.0\.1/);
    expect((await rejection(sources().resolve('lora', 'http://10.1.2.3/x.safetensors'))).code).toBe('url_private_address');
    expect(hits).toBe(0);
  });
});

describe('LoRA checks', () => {
  it('rejects a corrupt safetensors file naming it', async () => {
    const err = await rejection(patcher().inspectLora(MODEL_DIR, 'corrupt.safetensors'));
    expect(err.code).toBe('invalid_safetensors');
    expect(err.message).toContain('corrupt.safetensors');
  });

  it('rejects a LoRA for another architecture naming the file', async () => {
    // SD 1.5-style keys: attention in down_blocks.0 and 768-wide text-encoder layers.
    const r = 4;
    const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const bytes = encodeSafetensors({
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': t([r, 320]),
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': t([320, r]),
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': t([r, 768]),
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': t([768, r]),
    });
    await writeFile(path.join(modelsDir, 'loras', 'sd15.safetensors'), bytes);
    const err = await rejection(patcher().inspectLora(MODEL_DIR, 'sd15'));
    expect(err.code).toBe('lora_no_match');
    expect(err.message).toContain('sd15.safetensors');
    expect(err.message).toMatch(/another architecture/);
  });

  it('reports unmatched keys next to the applied layers', async () => {
    const f = await SafetensorsFile.open(KOHYA);
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const k of f.keys()) tensors[k] = { dtype: 'F32', shape: f.info(k).shape, data: await f.readFloat32(k) };
    await f.close();
    tensors['lora_unet_not_a_module.lora_down.weight'] = { dtype: 'F32', shape: [4, 4], data: new Float32Array(16) };
    tensors['lora_unet_x.hada_w1_a'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    await writeFile(path.join(modelsDir, 'loras', 'extra.safetensors'), encodeSafetensors(tensors));
    const { plan } = await patcher().inspectLora(MODEL_DIR, 'extra');
    expect(plan.matches.length).toBe(236);
    expect(plan.unmatched.map((u) => u.key).sort()).toEqual(['lora_unet_not_a_module', 'lora_unet_x.hada_w1_a']);
  });
});

describe('LoRA formats', () => {
  let modules: ComponentModules;
  beforeAll(async () => {
    modules = await patcher().componentModules(MODEL_DIR);
  });

  it('maps diffusers module paths to the original SGM block names', () => {
    const sgm = sgmNameMap(modules.unet.keys());
    expect(sgm.get('down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q')).toBe('input_blocks.4.1.transformer_blocks.0.attn1.to_q');
    expect(sgm.get('down_blocks.1.resnets.0.conv1')).toBe('input_blocks.4.0.in_layers.2');
    expect(sgm.get('down_blocks.1.resnets.0.conv_shortcut')).toBe('input_blocks.4.0.skip_connection');
    expect(sgm.get('down_blocks.0.downsamplers.0.conv')).toBe('input_blocks.3.0.op');
    expect(sgm.get('down_blocks.2.attentions.1.proj_out')).toBe('input_blocks.8.1.proj_out');
    expect(sgm.get('mid_block.attentions.0.transformer_blocks.1.ff.net.2')).toBe('middle_block.1.transformer_blocks.1.ff.net.2');
    expect(sgm.get('mid_block.resnets.1.time_emb_proj')).toBe('middle_block.2.emb_layers.1');
    expect(sgm.get('up_blocks.0.attentions.2.proj_in')).toBe('output_blocks.2.1.proj_in');
    expect(sgm.get('up_blocks.0.upsamplers.0.conv')).toBe('output_blocks.2.2.conv');
    expect(sgm.get('up_blocks.1.resnets.0.conv2')).toBe('output_blocks.3.0.out_layers.3');
    expect(sgm.get('up_blocks.2.resnets.2.conv1')).toBe('output_blocks.8.0.in_layers.2');
    expect(sgm.get('add_embedding.linear_1')).toBe('label_emb.0.0');
  });

  it('matches kohya keys with SGM block names to the same layers and merges them identically', async () => {
    const sgm = sgmNameMap(modules.unet.keys());
    const byUnderscore = new Map([...sgm].map(([d, s]) => [d.replaceAll('.', '_'), s.replaceAll('.', '_')]));
    const f = await SafetensorsFile.open(KOHYA);
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    let renamed = 0;
    for (const k of f.keys()) {
      const m = /^lora_unet_(.+?)(\.(?:lora_down\.weight|lora_up\.weight|alpha))$/.exec(k);
      const name = m && byUnderscore.has(m[1]!) ? `lora_unet_${byUnderscore.get(m[1]!)}${m[2]}` : k;
      if (name !== k) renamed++;
      tensors[name] = { dtype: 'F32', shape: f.info(k).shape, data: await f.readFloat32(k) };
    }
    expect(renamed).toBe(194 * 3);
    const file = path.join(tmp, 'sgm.safetensors');
    await writeFile(file, encodeSafetensors(tensors));
    const g = await SafetensorsFile.open(file);
    expect(g.keys()).toContain('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight');
    const a = planLora(f, 'kohya', modules);
    const b = planLora(g, 'sgm', modules);
    expect(b.unmatched).toEqual([]);
    expect(b.perComponent).toEqual(a.perComponent);
    const unet = await loadOnnxModel(path.join(MODEL_DIR, 'unet/model.onnx'));
    const collect = async (file: SafetensorsFile, plan: typeof a) => {
      const out = new Map<string, Uint8Array>();
      for await (const [n, r] of mergeLoras(unet, 'unet', [{ file, plan, strength: 0.8 }])) out.set(n, r.data!);
      return out;
    };
    const [ma, mb] = [await collect(f, a), await collect(g, b)];
    expect(ma.size).toBe(194);
    for (const [n, d] of ma) expect(Buffer.from(mb.get(n)!).equals(Buffer.from(d))).toBe(true);
    await f.close();
    await g.close();
  });

  it('stacks several LoRAs on one weight (0.5 + 0.3 = 0.8)', async () => {
    const te = await loadOnnxModel(path.join(MODEL_DIR, 'text_encoder/model.onnx'));
    const k = await SafetensorsFile.open(KOHYA);
    const p = await SafetensorsFile.open(path.join(FIX, 'lora/tinylora_peft.safetensors'));
    const plans = [planLora(k, 'k', modules), planLora(p, 'p', modules)];
    const one = new Map<string, Float32Array>();
    for await (const [n, r] of mergeLoras(te, 'text_encoder', [{ file: k, plan: plans[0]!, strength: 0.8 }])) one.set(n, decodeFloat32(r.data!, r.dataType));
    let n = 0;
    for await (const [name, r] of mergeLoras(te, 'text_encoder', [{ file: k, plan: plans[0]!, strength: 0.5 }, { file: p, plan: plans[1]!, strength: 0.3 }])) {
      const got = decodeFloat32(r.data!, r.dataType);
      const want = one.get(name)!;
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
      n++;
    }
    expect(n).toBe(18);
    await k.close();
    await p.close();
  });
});

describe('fp16 models', () => {
  it('merges a LoRA into float16 weights and runs the merged session', async () => {
    const [inn, out, r] = [8, 6, 2];
    const w = Float32Array.from({ length: inn * out }, (_, i) => Math.sin(i) * 0.5); // stored [in, out]
    const bytes = buildModel({
      nodes: [{ name: '/mid/lin/MatMul', op: 'MatMul', inputs: ['x', 'onnx::MatMul_3'], outputs: ['y'] }],
      initializers: [{ name: 'onnx::MatMul_3', dims: [inn, out], dataType: DT_FLOAT16, data: new Uint8Array(Uint16Array.from(w, f32ToF16).buffer) }],
      inputs: [{ name: 'x', elemType: DT_FLOAT16, dims: [1, inn] }],
      outputs: [{ name: 'y', elemType: DT_FLOAT16, dims: [1, out] }],
    });
    const dir = path.join(tmp, 'fp16-model', 'unet');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'model.onnx'), bytes);
    const up = Float32Array.from({ length: out * r }, (_, i) => Math.cos(i));
    const down = Float32Array.from({ length: r * inn }, (_, i) => Math.sin(i + 2) * 0.3);
    const loraFile = path.join(tmp, 'fp16-lora.safetensors');
    await writeFile(
      loraFile,
      encodeSafetensors({
        'lora_unet_mid_lin.lora_down.weight': { dtype: 'F16', shape: [r, inn], data: Uint16Array.from(down, f32ToF16) },
        'lora_unet_mid_lin.lora_up.weight': { dtype: 'F16', shape: [out, r], data: Uint16Array.from(up, f32ToF16) },
        'lora_unet_mid_lin.alpha': { dtype: 'F32', shape: [], data: Float32Array.of(1) },
      }),
    );
    const p = patcher();
    const { sha256 } = await p.sources.registerFile(loraFile);
    const ref = { model: 'fp16', loras: [{ source: loraFile, sha256, strengthModel: 0.7, strengthClip: 1 }], embeddings: [] };
    const src = await p.build(ref, 'unet', { info: { name: 'fp16', dir: path.dirname(dir) } as ModelInfo, component: 'unet', path: path.join(dir, 'model.onnx') });
    expect(p.builds.at(-1)).toMatchObject({ layers: 1, tensors: 1, mode: 'memory' });
    const session = await ort.InferenceSession.create(src.bytes!, { externalData: src.externalData! });
    const x = Float32Array.from({ length: inn }, (_, i) => (i - 3) / 4);
    const y = (await session.run({ x: new ort.Tensor('float16', Uint16Array.from(x, f32ToF16), [1, inn]) })).y!.data as Uint16Array;
    // Reference: W' = fp16(W + 0.7 · (alpha/rank) · (up @ down)ᵀ), y = x @ W'.
    const h = (v: number) => f16ToF32(f32ToF16(v));
    const upH = Array.from(up, h);
    const downH = Array.from(down, h);
    for (let o = 0; o < out; o++) {
      let acc = 0;
      for (let i = 0; i < inn; i++) {
        let d = 0;
        for (let k = 0; k < r; k++) d += upH[o * r + k]! * downH[k * inn + i]!;
        acc += h(x[i]!) * h(h(w[i * out + o]!) + (0.7 * 0.5) * d);
      }
      expect(Math.abs(f16ToF32(y[o]!) - acc)).toBeLessThan(1e-2);
    }
    const plain = await ort.InferenceSession.create(bytes);
    const y0 = (await plain.run({ x: new ort.Tensor('float16', Uint16Array.from(x, f32ToF16), [1, inn]) })).y!.data as Uint16Array;
    expect(Array.from(y0).some((v, i) => Math.abs(f16ToF32(v) - f16ToF32(y[i]!)) > 0.05)).toBe(true);
    await Promise.all([session.release(), plain.release()]);
  });
});

describe('external-data models (the >2 GB layout)', () => {
  it('builds a merged model folder with the untouched weights linked, equal to the in-memory merge', async () => {
    // Re-save the tiny text encoder with every weight in external files, as big exports are.
    const orig = await loadOnnxModel(path.join(MODEL_DIR, 'text_encoder/model.onnx'));
    const all = new Map();
    for (const t of orig.initializers.values()) all.set(t.name, { dims: t.dims, dataType: t.dataType, data: await readInitializerBytes(orig, t) });
    const ext = patchOnnxModel(orig, all, { prefix: 'model.onnx_data', chunkBytes: 2 ** 20 });
    const extDir = path.join(tmp, 'ext-model', 'text_encoder');
    await mkdir(extDir, { recursive: true });
    await writeFile(path.join(extDir, 'model.onnx'), ext.modelBytes);
    for (const f of ext.externalData) await writeFile(path.join(extDir, f.path), f.data);
    expect(ext.externalData.length).toBeGreaterThanOrEqual(2);

    const p = patcher();
    const { sha256 } = await p.sources.registerFile(KOHYA);
    const ref = { model: 'm', loras: [{ source: KOHYA, sha256, strengthModel: 1, strengthClip: 0.8 }], embeddings: [] };
    const info = { name: 'm', dir: path.dirname(extDir) } as ModelInfo;
    const onDisk = await p.build(ref, 'text_encoder', { info, component: 'text_encoder', path: path.join(extDir, 'model.onnx') });
    expect(onDisk.path).toBeDefined();
    expect(p.builds.at(-1)).toMatchObject({ mode: 'disk', layers: 18, tensors: 18 });
    const files = await readdir(path.dirname(onDisk.path!));
    expect(files).toContain('maskflow-lora-patch.bin');
    expect(files.filter((f) => f.startsWith('model.onnx_data')).length).toBe(ext.externalData.length);
    const inMemory = await p.build(ref, 'text_encoder', { info: { name: 'x', dir: MODEL_DIR } as ModelInfo, component: 'text_encoder', path: path.join(MODEL_DIR, 'text_encoder/model.onnx') });
    expect(inMemory.bytes).toBeDefined();
    expect(p.builds.at(-1)).toMatchObject({ mode: 'memory', layers: 18 });

    const ids = new ort.Tensor('int32', Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 5 ? 400 + i : 49407)), [1, 77]);
    const a = await ort.InferenceSession.create(onDisk.path!);
    const b = await ort.InferenceSession.create(inMemory.bytes!, { externalData: inMemory.externalData! });
    const base = await ort.InferenceSession.create(path.join(MODEL_DIR, 'text_encoder/model.onnx'));
    const [oa, ob, o0] = await Promise.all([a, b, base].map(async (s) => (await s.run({ input_ids: ids })).last_hidden_state!.data as Float32Array));
    expect(Array.from(oa!)).toEqual(Array.from(ob!));
    expect(oa!.some((v, i) => Math.abs(v - o0![i]!) > 1e-4)).toBe(true);
    // Second build of the same variant reuses the folder.
    const again = await p.build(ref, 'text_encoder', { info, component: 'text_encoder', path: path.join(extDir, 'model.onnx') });
    expect(again.path).toBe(onDisk.path);
    await Promise.all([a, b, base].map((s) => s.release()));
  });
});
