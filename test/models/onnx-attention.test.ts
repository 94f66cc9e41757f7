// The exported attention of the Optimum fixture UNet / VAE is rewritten into MultiHeadAttention,
// and the rewritten graphs compute what the originals do.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOnnxModel, parseOnnxModel } from '../../server/models/onnx-graph.js';
import { rewriteAttention } from '../../server/models/onnx-attention.js';
import { withFusedAttention, removeOrphanedFusedAttention } from '../../server/models/fused-attention-source.js';
import { patchOnnxModel, type TensorReplacement } from '../../server/models/onnx-patch.js';
import { concat, readVarint } from '../../server/models/protobuf.js';
import { ModelStore } from '../../server/models/model-store.js';
import pino from 'pino';
import { MODELS_DIR } from '../sdxl/golden-io.js';

const file = (c: string) => path.join(MODELS_DIR, 'tiny-sdxl-inpaint', c, 'model.onnx');
const opts = { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 as const };

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const randn = (n: number, r: () => number) => Float32Array.from({ length: n }, () => 2 * r());

async function runBoth(original: ort.InferenceSession | string, rewrittenBytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const a = typeof original === 'string' ? await ort.InferenceSession.create(original, opts) : original;
  const b = await ort.InferenceSession.create(rewrittenBytes, opts);
  const [ra, rb] = [await a.run(feeds), await b.run(feeds)];
  let maxDiff = 0;
  for (const k of a.outputNames) {
    const x = ra[k]!.data as Float32Array;
    const y = rb[k]!.data as Float32Array;
    expect(y.length).toBe(x.length);
    for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i]! - y[i]!));
  }
  return maxDiff;
}

describe('fused attention for Optimum exports', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'maskflow-attn-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('rewrites all 34 UNet attentions; outputs equal the original within 1e-5', async () => {
    const r = rewriteAttention(await loadOnnxModel(file('unet')));
    expect(r).toMatchObject({ rewritten: 34, left: 0 });
    const bytes = concat(r.chunks!);
    expect(new TextDecoder().decode(bytes)).toContain('MultiHeadAttention');
    const g = rng(1);
    const feeds = {
      sample: new ort.Tensor('float32', randn(2 * 9 * 16 * 16, g), [2, 9, 16, 16]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', randn(2 * 77 * 56, g), [2, 77, 56]),
      text_embeds: new ort.Tensor('float32', randn(2 * 20, g), [2, 20]),
      time_ids: new ort.Tensor('float32', Float32Array.from([64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64]), [2, 6]),
    };
    expect(await runBoth(file('unet'), bytes, feeds)).toBeLessThan(1e-5);
  }, 60_000);

  it('rewrites the VAE encoder and decoder mid-block attention; outputs equal within 1e-5', async () => {
    const g = rng(2);
    for (const [c, feeds] of [
      ['vae_encoder', { sample: new ort.Tensor('float32', randn(3 * 128 * 128, g), [1, 3, 128, 128]) }],
      ['vae_decoder', { latent_sample: new ort.Tensor('float32', randn(4 * 16 * 16, g), [1, 4, 16, 16]) }],
    ] as const) {
      const r = rewriteAttention(await loadOnnxModel(file(c)));
      expect(r, c).toMatchObject({ rewritten: 1, left: 0 });
      expect(await runBoth(file(c), concat(r.chunks!), feeds), c).toBeLessThan(1e-5);
    }
  }, 60_000);

  it('reads negative int64 varints (softmax axis -1) exactly', () => {
    expect(readVarint(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0)).toEqual([-1, 10]);
    expect(readVarint(Uint8Array.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0)).toEqual([-2, 10]);
    expect(readVarint(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0)).toEqual([2 ** 56, 9]);
  });

  it('leaves the text encoders (causal mask) alone', async () => {
    for (const c of ['text_encoder', 'text_encoder_2']) {
      const r = rewriteAttention(await loadOnnxModel(file(c)));
      expect(r.rewritten, c).toBe(0);
      expect(r.left, c).toBeGreaterThan(0);
      expect(r.chunks).toBeUndefined();
    }
  });

  it('keeps external weights where they are: a folder of the rewritten graph and hard links', async () => {
    // The fixture VAE decoder with every initializer moved to an external file.
    const dir = path.join(tmp, 'ext', 'vae_decoder');
    const model = await loadOnnxModel(file('vae_decoder'));
    const replacements = new Map<string, TensorReplacement>();
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const t of model.initializers.values()) {
      if (!t.raw || t.dataType !== 1) continue;
      const data = model.bytes.subarray(t.raw.start, t.raw.end);
      replacements.set(t.name, { dims: t.dims, dataType: t.dataType, external: { location: 'model.onnx_data', offset, length: data.byteLength } });
      parts.push(data);
      offset += data.byteLength;
    }
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.onnx_data'), concat(parts));
    writeFileSync(path.join(dir, 'model.onnx'), patchOnnxModel(model, replacements, { mode: 'inline' }).modelBytes);

    const cacheDir = path.join(tmp, 'cache');
    const src = await withFusedAttention({ path: path.join(dir, 'model.onnx') }, { cacheDir, label: 'ext/vae_decoder' });
    expect(src.path).toMatch(new RegExp(`^${cacheDir}`));
    const linked = path.join(path.dirname(src.path!), 'model.onnx_data');
    expect(statSync(linked).ino).toBe(statSync(path.join(dir, 'model.onnx_data')).ino);
    const rewritten = parseOnnxModel(new Uint8Array(readFileSync(src.path!)), path.dirname(src.path!));
    expect(rewritten.nodes.filter((n) => n.opType === 'MultiHeadAttention')).toHaveLength(1);
    expect([...rewritten.initializers.values()].filter((t) => t.external).length).toBe(replacements.size);
    // A second session creation reuses the folder.
    expect((await withFusedAttention({ path: path.join(dir, 'model.onnx') }, { cacheDir, label: 'ext/vae_decoder' })).path).toBe(src.path);

    // A changed model folder gets a new rewritten folder; the stale one is removed.
    writeFileSync(path.join(dir, 'config.json'), '{}');
    const again = await withFusedAttention({ path: path.join(dir, 'model.onnx') }, { cacheDir, label: 'ext/vae_decoder' });
    expect(again.path).not.toBe(src.path);
    expect(existsSync(src.path!)).toBe(false);

    const g = rng(3);
    const feeds = { latent_sample: new ort.Tensor('float32', randn(4 * 8 * 8, g), [1, 4, 8, 8]) };
    const a = await ort.InferenceSession.create(file('vae_decoder'), opts);
    const b = await ort.InferenceSession.create(again.path!, opts);
    const [ra, rb] = [await a.run(feeds), await b.run(feeds)];
    const x = ra.sample!.data as Float32Array;
    const y = rb.sample!.data as Float32Array;
    expect(Math.max(...x.map((v, i) => Math.abs(v - y[i]!)))).toBeLessThan(1e-5);

    // The folder hard-links the weights: once the model is deleted, it goes too (models API DELETE).
    expect(await removeOrphanedFusedAttention(cacheDir)).toBe(0);
    rmSync(dir, { recursive: true, force: true });
    expect(await removeOrphanedFusedAttention(cacheDir)).toBe(1);
    expect(existsSync(path.dirname(again.path!))).toBe(false);
  }, 60_000);

  it('writes a rewritten inline model once to the cache dir; later sessions load that file', async () => {
    const cacheDir = path.join(tmp, 'inline-cache');
    const first = await withFusedAttention({ path: file('vae_decoder') }, { cacheDir, label: 'vae_decoder' });
    expect(first.bytes).toBeUndefined();
    expect(first.path).toMatch(new RegExp(`^${cacheDir}`));
    expect((await withFusedAttention({ path: file('vae_decoder') }, { cacheDir, label: 'vae_decoder' })).path).toBe(first.path);
    const feeds = { latent_sample: new ort.Tensor('float32', randn(4 * 8 * 8, rng(5)), [1, 4, 8, 8]) };
    const [ra, rb] = [await (await ort.InferenceSession.create(file('vae_decoder'), opts)).run(feeds), await (await ort.InferenceSession.create(first.path!, opts)).run(feeds)];
    const y = rb.sample!.data as Float32Array;
    expect(Math.max(...(ra.sample!.data as Float32Array).map((v, i) => Math.abs(v - y[i]!)))).toBeLessThan(1e-5);
  }, 60_000);

  it('rewrites in-memory (LoRA-patched) sources and leaves non-matching graphs untouched', async () => {
    const bytes = new Uint8Array(readFileSync(file('unet')));
    const fused = await withFusedAttention({ bytes, externalData: [], sizeBytes: 1 }, { label: 'unet' });
    expect(fused.bytes).not.toBe(bytes);
    expect(parseOnnxModel(fused.bytes!, '').nodes.filter((n) => n.opType === 'MultiHeadAttention')).toHaveLength(34);
    expect(fused.sizeBytes).toBe(1);
    const te = { path: file('text_encoder') };
    expect(await withFusedAttention(te, { label: 'te' })).toBe(te);
  }, 60_000);

  it('ModelStore fuses UNet/VAE attention of ONNX folders with `mha` (default) and keeps the graph with `full`', async () => {
    for (const attention of [undefined, 'full'] as const) {
      const lines: string[] = [];
      const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
      const store = new ModelStore({
        modelsDir: MODELS_DIR,
        inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu', ...(attention ? { attention: { impl: attention, chunkTokens: 1024 } } : {}) },
        sessionCacheBytes: 2 ** 31,
        logger,
      });
      const model = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] };
      for (const c of ['unet', 'vae_decoder', 'text_encoder'] as const) await store.getSession(model, c);
      const fused = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'exported attention rewritten to MultiHeadAttention');
      if (attention === 'full') expect(fused).toEqual([]);
      else expect(fused.map((l) => [l.model, l.rewritten, l.left])).toEqual([['tiny-sdxl-inpaint/unet', 34, 0], ['tiny-sdxl-inpaint/vae_decoder', 1, 0]]);
      store.pool.clear();
    }
  }, 60_000);
});
