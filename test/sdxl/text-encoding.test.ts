import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeConditioning } from '../../server/sdxl/text-encoding.js';
import { GOLDENS, maxAbsDiff, readTensor } from './golden-io.js';
import { testStore } from './helpers.js';

const store = testStore();
// LoRA / textual-inversion cases need the patcher (tested by the LoRA engineer).
const cases = readdirSync(GOLDENS).filter((c) => !c.startsWith('lora_') && !c.startsWith('ti_') && !c.startsWith('ckpt_'));
// ckpt_* cases run from their checkpoint file: test/checkpoints.

describe('prompt encoding vs diffusers goldens', () => {
  it.each(cases)('%s', async (c) => {
    const dir = path.join(GOLDENS, c);
    const p = JSON.parse(readFileSync(path.join(dir, 'params.json'), 'utf8'));
    const t = (n: string) => readTensor(dir, p.tensors[n]);
    const ref = { model: p.model, loras: [], embeddings: [] };
    const cfg = p.do_classifier_free_guidance as boolean;
    const enc = await encodeConditioning(store, ref, {
      prompt: p.prompt,
      prompt2: p.prompt_2,
      negative: cfg ? p.negative_prompt : undefined,
      negative2: p.negative_prompt_2 ?? null,
    });
    expect(enc.positiveIds.ids).toEqual(Array.from(t('prompt_input_ids') as BigInt64Array, Number));
    expect(enc.positiveIds.ids2).toEqual(Array.from(t('prompt_input_ids_2') as BigInt64Array, Number));
    expect(maxAbsDiff(enc.positive.embeds!, t('prompt_embeds') as Float32Array)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(enc.positive.pooled!, t('pooled_prompt_embeds') as Float32Array)).toBeLessThanOrEqual(1e-4);
    if (!cfg) return;
    if (p.negative_prompt === null) {
      expect(enc.negative.zeros).toBe(true);
      expect(Array.from(t('negative_prompt_embeds') as Float32Array).every((v) => v === 0)).toBe(true);
    } else {
      expect(enc.negative.zeros).toBe(false);
      expect(enc.negativeIds!.ids).toEqual(Array.from(t('negative_prompt_input_ids') as BigInt64Array, Number));
      expect(maxAbsDiff(enc.negative.embeds!, t('negative_prompt_embeds') as Float32Array)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(enc.negative.pooled!, t('negative_pooled_prompt_embeds') as Float32Array)).toBeLessThanOrEqual(1e-4);
    }
  });
});
