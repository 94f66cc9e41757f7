// The models/apply-lora and models/load-embeddings nodes against a models folder holding the
// tiny model plus loras/ and embeddings/, with a real ModelStore and patcher.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import applyLora from '../../nodes/models/apply-lora.js';
import loadEmbeddings from '../../nodes/models/load-embeddings.js';
import { ModelStore } from '../../server/models/model-store.js';
import { createAdapters, type AdapterPatcher } from '../../server/models/adapters.js';
import { NodeError } from '../../server/engine/errors.js';
import type { ExecutionContext } from '../../server/engine/context.js';
import type { ModelRef } from '../../server/models/refs.js';

const FIX = path.resolve('test/fixtures');
let tmp: string;
let store: ModelStore;
let adapters: AdapterPatcher;
const logs: string[] = [];

function ctx(): ExecutionContext {
  return {
    runId: 'r',
    nodeId: 'n',
    nodeType: 'models/apply-lora',
    workflow: { version: 1, nodes: {} } as unknown as ExecutionContext['workflow'],
    signal: new AbortController().signal,
    services: { models: store, adapters } as unknown as ExecutionContext['services'],
    files: { save: async () => { throw new Error('unused'); }, read: async () => undefined, pathOf: async () => undefined },
    progress: () => {},
    log: (_level, msg) => void logs.push(msg),
    throwIfCancelled: () => {},
  };
}

const base = (): ModelRef => ({ model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mf-lnodes-'));
  const modelsDir = path.join(tmp, 'models');
  await mkdir(path.join(modelsDir, 'loras'), { recursive: true });
  await mkdir(path.join(modelsDir, 'embeddings'), { recursive: true });
  await symlink(path.join(FIX, 'models/tiny-sdxl-inpaint'), path.join(modelsDir, 'tiny-sdxl-inpaint'));
  await copyFile(path.join(FIX, 'lora/tinylora_kohya.safetensors'), path.join(modelsDir, 'loras/tiny.safetensors'));
  await copyFile(path.join(FIX, 'lora/tinylora_peft.safetensors'), path.join(modelsDir, 'loras/tiny-peft.safetensors'));
  await copyFile(path.join(FIX, 'textual_inversion/tiny-ti.safetensors'), path.join(modelsDir, 'embeddings/tiny-ti.safetensors'));
  await writeFile(path.join(modelsDir, 'loras/broken.safetensors'), 'not a safetensors file');
  store = new ModelStore({ modelsDir, inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' }, sessionCacheBytes: 2 ** 30 });
  adapters = createAdapters({ modelsDir, dataDir: path.join(tmp, 'data'), urlAllowlist: [], maxModelFileBytes: 2 ** 24, modelFetchTimeoutMs: 2000, maxRedirects: 1 }, store);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('models/apply-lora', () => {
  it('passes the refs through when nothing is set', async () => {
    const unet = base();
    const clip = base();
    const out = await applyLora.execute({ unet, clip }, { lora: '', strength_model: 1, strength_clip: 1, loras: [] }, ctx());
    expect(out.unet).toBe(unet);
    expect(out.clip).toBe(clip);
  });

  it('adds the LoRA with separate strengths and the loras list at one scale; logs what applied', async () => {
    logs.length = 0;
    const out = await applyLora.execute(
      { unet: base(), clip: base() },
      { lora: 'tiny', strength_model: 0.8, strength_clip: 0.4, loras: [{ path: 'tiny-peft.safetensors', scale: 0.5 }] },
      ctx(),
    );
    expect(out.unet.loras.map((l) => [l.source, l.strengthModel, l.strengthClip])).toEqual([
      ['tiny', 0.8, 0.4],
      ['tiny-peft.safetensors', 0.5, 0.5],
    ]);
    expect(out.unet.loras[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(out.clip.loras).toEqual(out.unet.loras);
    expect(logs.join('\n')).toMatch(/236 layers \(unet 194, text_encoder 18, text_encoder_2 24\), 0 unmatched/);
    // The refs drive patched sessions: UNet at 0.8 + 0.5 differs from the plain one.
    const plain = await store.getSession(base(), 'unet');
    const patched = await store.getSession(out.unet, 'unet');
    expect(patched).not.toBe(plain);
  }, 60_000);

  it('names the param of a bad file', async () => {
    const err = (await applyLora.execute({ unet: base(), clip: base() }, { lora: '', strength_model: 1, strength_clip: 1, loras: [{ path: 'broken', scale: 1 }] }, ctx()).catch((e: unknown) => e)) as NodeError;
    expect(err).toBeInstanceOf(NodeError);
    expect(err.code).toBe('invalid_safetensors');
    expect(err.details.param).toBe('loras');
    const missing = (await applyLora.execute({ unet: base(), clip: base() }, { lora: 'nope', strength_model: 1, strength_clip: 1, loras: [] }, ctx()).catch((e: unknown) => e)) as NodeError;
    expect(missing.code).toBe('lora_not_found');
    expect(missing.details.param).toBe('lora');
  });
});

describe('models/load-embeddings', () => {
  it('adds embeddings with the file name as default token, or given tokens', async () => {
    logs.length = 0;
    const out = await loadEmbeddings.execute({ clip: base() }, { embeddings: [{ path: 'tiny-ti' }] }, ctx());
    expect(out.clip.embeddings).toEqual([{ source: 'tiny-ti', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), token: 'tiny-ti' }]);
    expect(logs.join('\n')).toMatch(/token tiny-ti = 2 vectors/);
    const { tokenizer, tokenizer2 } = await store.getTokenizers(out.clip);
    expect(tokenizer.encode(tokenizer.expandAddedTokens('a tiny-ti cat')).ids.slice(0, 5)).toEqual([49406, 320, 49408, 49409, 2368]);
    expect(tokenizer2.tokenToId('tiny-ti_1')).toBe(49409);
    const named = await loadEmbeddings.execute({ clip: base() }, { embeddings: [{ path: 'tiny-ti', tokens: ['<s0>', '<s1>'] }] }, ctx());
    expect(named.clip.embeddings[0]).toMatchObject({ token: '<s0>', tokens: ['<s0>', '<s1>'] });
    const toks = await store.getTokenizers(named.clip);
    expect(toks.tokenizer.encode('<s0><s1>').ids.slice(0, 4)).toEqual([49406, 49408, 49409, 49407]);
  }, 60_000);

  it('refuses two embeddings with the same token', async () => {
    const err = (await loadEmbeddings.execute({ clip: base() }, { embeddings: [{ path: 'tiny-ti' }, { path: 'tiny-ti.safetensors' }] }, ctx()).catch((e: unknown) => e)) as NodeError;
    expect(err.code).toBe('embedding_token_exists');
    expect(err.details.param).toBe('embeddings');
  });
});
