import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { SafetensorsFile, encodeSafetensors } from '../../server/models/safetensors.js';
import { appendEmbeddingRows, loadEmbedding, tokenEmbeddingInitializer } from '../../server/models/embeddings.js';
import { loadOnnxModel, readInitializerFloat32, decodeFloat32 } from '../../server/models/onnx-graph.js';
import { ModelStore } from '../../server/models/model-store.js';
import { createAdapters } from '../../server/models/adapters.js';
import { NodeError } from '../../server/engine/errors.js';
import type { ModelRef } from '../../server/models/refs.js';

const FIX = path.resolve('test/fixtures');
const TI = path.join(FIX, 'textual_inversion/tiny-ti.safetensors');
const WIDTHS = { text_encoder: 24, text_encoder_2: 32 };
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mf-emb-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function write(name: string, tensors: Record<string, number[]>): Promise<string> {
  const file = path.join(tmp, name);
  const entries = Object.fromEntries(
    Object.entries(tensors).map(([k, shape]) => [k, { dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i + 1) / 100) }]),
  );
  await writeFile(file, encodeSafetensors(entries));
  return file;
}

describe('embedding files', () => {
  it('reads the SDXL fixture: clip_l -> text_encoder, clip_g -> text_encoder_2, 2 vectors', async () => {
    const f = await SafetensorsFile.open(TI);
    const e = await loadEmbedding(f, 'tiny-ti.safetensors', {}, WIDTHS);
    expect(e.token).toBe('tiny-ti');
    expect(e.tokens).toEqual(['tiny-ti', 'tiny-ti_1']);
    expect(e.vectors.text_encoder!.length).toBe(48);
    expect(e.vectors.text_encoder_2!.length).toBe(64);
    expect((await loadEmbedding(f, 'x', { token: '<tiny-ti>' }, WIDTHS)).tokens).toEqual(['<tiny-ti>', '<tiny-ti>_1']);
    expect((await loadEmbedding(f, 'x', { tokens: ['<s0>', '<s1>'] }, WIDTHS)).tokens).toEqual(['<s0>', '<s1>']);
    const err = await loadEmbedding(f, 'x', { tokens: ['<a>', '<b>', '<c>'] }, WIDTHS).catch((e: unknown) => e);
    expect((err as NodeError).message).toMatch(/2 vectors but 3 tokens/);
    await f.close();
  });

  it('assigns single-encoder files by width and rejects other architectures', async () => {
    const a1111 = await SafetensorsFile.open(await write('style.safetensors', { emb_params: [3, 24] }));
    const e = await loadEmbedding(a1111, 'style.safetensors', {}, WIDTHS);
    expect(Object.keys(e.vectors)).toEqual(['text_encoder']);
    expect(e.count).toBe(3);
    const diffusers = await SafetensorsFile.open(await write('g.safetensors', { '<cat-toy>': [32] }));
    expect(Object.keys((await loadEmbedding(diffusers, 'g', {}, WIDTHS)).vectors)).toEqual(['text_encoder_2']);
    const sd15 = await SafetensorsFile.open(await write('sd15.safetensors', { emb_params: [2, 768] }));
    const err = await loadEmbedding(sd15, 'sd15.safetensors', {}, WIDTHS).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(NodeError);
    expect((err as NodeError).code).toBe('embedding_mismatch');
    expect((err as NodeError).message).toContain('sd15.safetensors');
    await Promise.all([a1111, diffusers, sd15].map((f) => f.close()));
  });

  it('appends rows to the token-embedding table', async () => {
    const model = await loadOnnxModel(path.join(FIX, 'models/tiny-sdxl-inpaint/text_encoder_2/model.onnx'));
    expect(tokenEmbeddingInitializer(model)).toBe('text_model.embeddings.token_embedding.weight');
    const f = await SafetensorsFile.open(TI);
    const e = await loadEmbedding(f, 'tiny-ti', {}, WIDTHS);
    const [name, r] = (await appendEmbeddingRows(model, 'text_encoder_2', [e]))!;
    expect(r.dims).toEqual([49410, 32]);
    const table = decodeFloat32(r.data!, r.dataType);
    const orig = await readInitializerFloat32(model, name);
    let same = true;
    for (let i = 0; i < orig.length; i++) same &&= table[i] === orig[i];
    expect(same).toBe(true);
    expect(Array.from(table.subarray(49408 * 32))).toEqual(Array.from(e.vectors.text_encoder_2!));
    await f.close();
  });
});

describe('embeddings through the model store', () => {
  let store: ModelStore;
  beforeAll(async () => {
    const modelsDir = path.join(tmp, 'models');
    await mkdir(path.join(modelsDir, 'embeddings'), { recursive: true });
    await symlink(path.join(FIX, 'models/tiny-sdxl-inpaint'), path.join(modelsDir, 'tiny-sdxl-inpaint'));
    await copyFile(await write('only-l.safetensors', { emb_params: [1, 24] }), path.join(modelsDir, 'embeddings', 'only-l.safetensors'));
    store = new ModelStore({ modelsDir, inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' }, sessionCacheBytes: 2 ** 30 });
    createAdapters({ modelsDir, dataDir: path.join(tmp, 'data'), urlAllowlist: [], maxModelFileBytes: 2 ** 20, modelFetchTimeoutMs: 1000, maxRedirects: 1 }, store);
  });

  it('a single-encoder embedding adds its token to one tokenizer and its vector to that encoder', async () => {
    const ref: ModelRef = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [{ source: 'only-l' }] };
    const { tokenizer, tokenizer2 } = await store.getTokenizers(ref);
    expect(tokenizer.tokenToId('only-l')).toBe(49408);
    expect(tokenizer2.tokenToId('only-l')).toBeUndefined();
    const te = await store.getSession(ref, 'text_encoder');
    const ids = tokenizer.encode('only-l').ids;
    expect(ids.slice(0, 3)).toEqual([49406, 49408, 49407]);
    const out = await te.run({ input_ids: new ort.Tensor('int32', Int32Array.from(ids), [1, 77]) });
    const h0 = out['hidden_states.0']!.data as Float32Array; // token embedding + position embedding
    const model = await loadOnnxModel(path.join(FIX, 'models/tiny-sdxl-inpaint/text_encoder/model.onnx'));
    const pos = await readInitializerFloat32(model, 'text_model.embeddings.position_embedding.weight');
    for (let d = 0; d < 24; d++) expect(h0[24 + d]! - pos[24 + d]!).toBeCloseTo((d + 1) / 100, 5);
  });

  it('refuses a token that is already in the vocabulary', async () => {
    const ref: ModelRef = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [{ source: 'only-l', token: '<|endoftext|>' }] };
    const err = await store.getTokenizers(ref).catch((e: unknown) => e);
    expect((err as NodeError).code).toBe('embedding_token_exists');
  });
});
