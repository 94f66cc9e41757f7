// Golden replays of the LoRA (kohya and PEFT files) and textual-inversion cases through the
// pipeline with patched ONNX sessions, plus the merged-session cache.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import '../../server/models/golden-adapters.js';
import { patcherFor } from '../../server/models/golden-adapters.js';
import { ModelStore } from '../../server/models/model-store.js';
import { replayGoldenCase } from '../../server/sdxl/golden-replay.js';
import { compareWithReference, TOLERANCES } from '../../server/sdxl/golden-cli.js';
import type { ModelRef } from '../../server/models/refs.js';

const FIX = path.resolve('test/fixtures');
const GOLDENS = path.join(FIX, 'goldens');

function store(): ModelStore {
  return new ModelStore({
    modelsDir: path.join(FIX, 'models'),
    inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' },
    sessionCacheBytes: 2 ** 30,
  });
}

function expectWithinTolerances(diffs: Record<string, number>): void {
  expect(Object.keys(diffs).sort()).toEqual(['final_latents', 'image_out', 'pooled_prompt_embeds', 'prompt_embeds', 'timesteps']);
  for (const [name, d] of Object.entries(diffs)) expect(d, name).toBeLessThanOrEqual(TOLERANCES[name]!);
}

describe('LoRA golden', () => {
  it.each(['kohya', 'peft'])('reproduces lora_tinylora_inpaint9_euler_s100_w080 with the %s file', async (format) => {
    const s = store();
    const caseDir = path.join(GOLDENS, 'lora_tinylora_inpaint9_euler_s100_w080');
    const r = await replayGoldenCase(caseDir, { store: s, options: { 'lora-format': format } });
    expectWithinTolerances(compareWithReference(r, caseDir));
    const builds = patcherFor(s).builds;
    // 194 UNet layers (192 linear + 2 conv), 18 + 24 text-encoder layers, all applied.
    expect(Object.fromEntries(builds.map((b) => [b.component, b.layers]))).toEqual({ unet: 194, text_encoder: 18, text_encoder_2: 24 });
  }, 120_000);
});

describe('textual-inversion golden', () => {
  it('reproduces ti_tiny-ti_inpaint9_euler_s100 (ids, embeddings, image)', async () => {
    const s = store();
    const caseDir = path.join(GOLDENS, 'ti_tiny-ti_inpaint9_euler_s100');
    const r = await replayGoldenCase(caseDir, { store: s });
    expectWithinTolerances(compareWithReference(r, caseDir));
    // Ids: the token expands to <tiny-ti> <tiny-ti>_1 = 49408, 49409 in both tokenizers.
    const ti = path.join(FIX, 'textual_inversion/tiny-ti.safetensors');
    const sha = (await patcherFor(s).sources.registerFile(ti)).sha256;
    const ref: ModelRef = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [{ source: ti, sha256: sha, token: '<tiny-ti>' }] };
    const { tokenizer, tokenizer2 } = await s.getTokenizers(ref);
    const readIds = (f: string) => {
      const b = readFileSync(path.join(caseDir, f));
      return Array.from(new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), Number);
    };
    const prompt = r.params.prompt;
    expect(tokenizer.encode(tokenizer.expandAddedTokens(prompt)).ids).toEqual(readIds('prompt_input_ids.bin'));
    expect(tokenizer2.encode(tokenizer2.expandAddedTokens(prompt)).ids).toEqual(readIds('prompt_input_ids_2.bin'));
    expect(tokenizer.encode(tokenizer.expandAddedTokens(prompt)).ids.slice(0, 10)).toEqual([49406, 320, 1125, 539, 49408, 49409, 525, 320, 2117, 49407]);
    // The plain tokenizers of the same model stay clean.
    const plain = await s.getTokenizers({ model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] });
    expect(plain.tokenizer.tokenToId('<tiny-ti>')).toBeUndefined();
  }, 120_000);
});

describe('merged-session cache', () => {
  it('builds a merged session once per (model, LoRA set, strengths) and keeps the base session', async () => {
    const s = store();
    const patcher = patcherFor(s);
    const lora = path.join(FIX, 'lora/tinylora_kohya.safetensors');
    const { sha256 } = await patcher.sources.registerFile(lora);
    const ref = (strength: number): ModelRef => ({ model: 'tiny-sdxl-inpaint', loras: [{ source: lora, sha256, strengthModel: strength, strengthClip: strength }], embeddings: [] });
    const base: ModelRef = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] };
    const plain = await s.getSession(base, 'text_encoder');
    const a = await s.getSession(ref(0.8), 'text_encoder');
    expect(patcher.builds.length).toBe(1);
    const loads = s.pool.loads;
    const b = await s.getSession(ref(0.8), 'text_encoder');
    expect(b).toBe(a);
    expect(s.pool.loads).toBe(loads);
    expect(patcher.builds.length).toBe(1);
    expect(await s.getSession(base, 'text_encoder')).toBe(plain);
    const c = await s.getSession(ref(0.5), 'text_encoder');
    expect(c).not.toBe(a);
    expect(patcher.builds.length).toBe(2);
    // Strength 0 on the text encoders shares the plain session.
    const clipOff: ModelRef = { ...ref(1), loras: [{ source: lora, sha256, strengthModel: 1, strengthClip: 0 }] };
    expect(await s.getSession(clipOff, 'text_encoder')).toBe(plain);
    expect(s.stats().sessions.map((x) => x.key).filter((k) => k.includes('text_encoder')).length).toBe(3);
  }, 60_000);
});
