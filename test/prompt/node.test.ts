// prompt/expand through the real validator and executor, with a real local LLM stand-in.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../server/models/model-store.js';
import { createPromptExpander } from '../../server/prompt/service.js';
import { GraphBuilder } from '../helpers/graph-builder.js';
import { CAPTURED, runWorkflow, testConfig } from '../safety/harness.js';
import { FakeOpenAI } from './fake-openai.js';

const MODELS_DIR = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await new FakeOpenAI().start();
});
afterAll(() => fake.stop());

function graph(opts: { textInput?: boolean; clip?: boolean } = {}) {
  const g = new GraphBuilder();
  const inputs: Record<string, [string, string]> = {};
  if (opts.textInput) inputs.text = g.add('test/text', { value: 'from the link' }, {}, 'src').out('text');
  if (opts.clip) inputs.clip = g.add('test/clip', { model: 'tiny-sdxl-inpaint' }, {}, 'loader').out('clip');
  const ex = g.add('prompt/expand', { prompt: 'a red fox' }, inputs, 'expand');
  g.add('test/capture-text', { label: 'encoded' }, { text: ex.out('text') }, 'encode');
  g.expose('expand_prompt', ex, 'enabled');
  g.expose('prompt', ex, 'prompt');
  g.expose('on_error', ex, 'on_error');
  return g.build();
}

function services(env: Record<string, string> = {}) {
  const config = testConfig({ MASKFLOW_MODELS_DIR: MODELS_DIR, ...env });
  return { config, models: ModelStore.fromConfig(config), promptExpander: createPromptExpander(config) };
}

describe('prompt/expand node', () => {
  it('expands, fits with the linked CLIP tokenizers, and reports the final prompt', async () => {
    fake.reply = { content: 'a red fox, snowy forest, golden hour, low angle, 85mm photo' };
    const s = services({ MASKFLOW_PROMPT_EXPANDER_URL: fake.url });
    const { result, error } = await runWorkflow(graph({ clip: true }), s, { expand_prompt: true });
    expect(error).toBeUndefined();
    expect(result!.outputs.expand).toMatchObject({
      prompt: 'a red fox, snowy forest, golden hour, low angle, 85mm photo',
      expanded: true,
      expanded_prompt: 'a red fox, snowy forest, golden hour, low angle, 85mm photo',
      original_prompt: 'a red fox',
      truncated: false,
      expansion_model: 'default',
    });
    expect((result!.outputs.expand as { tokens: number }).tokens).toBeGreaterThan(10);
    expect(CAPTURED.get('encoded')).toBe('a red fox, snowy forest, golden hour, low angle, 85mm photo');
  });

  it('uses the linked text over the prompt param', async () => {
    fake.reply = (req) => ({ content: `${req.body.messages[1].content}, dramatic light` });
    const s = services({ MASKFLOW_PROMPT_EXPANDER_URL: fake.url });
    const { result } = await runWorkflow(graph({ textInput: true }), s, { expand_prompt: true });
    expect(result!.outputs.expand).toMatchObject({ prompt: 'from the link, dramatic light', expanded: true });
  });

  it('passes through when disabled (the default), with no request', async () => {
    const s = services({ MASKFLOW_PROMPT_EXPANDER_URL: fake.url });
    const before = fake.requests.length;
    const { result } = await runWorkflow(graph(), s, { prompt: 'a blue bird' });
    expect(result!.outputs.expand).toEqual({ prompt: 'a blue bird', expanded: false });
    expect(CAPTURED.get('encoded')).toBe('a blue bird');
    expect(fake.requests.length).toBe(before);
  });

  it('enabled without an expander: prompt_expansion_unavailable, never a silent no-op', async () => {
    const { error } = await runWorkflow(graph(), services(), { expand_prompt: true });
    expect(error).toMatchObject({ code: 'prompt_expansion_unavailable', nodeId: 'expand', param: 'enabled', details: { status: 422 } });
  });

  it('expander failure fails the run, or keeps the original prompt when on_error=original', async () => {
    fake.reply = { status: 500, raw: 'upstream exploded' };
    const s = services({ MASKFLOW_PROMPT_EXPANDER_URL: fake.url });
    const failed = await runWorkflow(graph(), s, { expand_prompt: true });
    expect(failed.error).toMatchObject({ code: 'prompt_expansion_failed', details: { status: 502, upstream_status: 500 } });
    const kept = await runWorkflow(graph(), s, { expand_prompt: true, on_error: 'original' });
    expect(kept.result!.outputs.expand).toMatchObject({ prompt: 'a red fox', expanded: false, expansion_error: { code: 'prompt_expansion_failed' } });
  });

  it('times out through the node with prompt_expansion_timeout', async () => {
    fake.reply = { content: 'late', delayMs: 1000 };
    const s = services({ MASKFLOW_PROMPT_EXPANDER_URL: fake.url, MASKFLOW_PROMPT_EXPANDER_TIMEOUT_MS: '150' });
    const { error } = await runWorkflow(graph(), s, { expand_prompt: true });
    expect(error).toMatchObject({ code: 'prompt_expansion_timeout', nodeId: 'expand' });
  });

  it('does not send an empty prompt to the LLM', async () => {
    const s = services({ MASKFLOW_PROMPT_EXPANDER_URL: fake.url });
    const before = fake.requests.length;
    const { result } = await runWorkflow(graph(), s, { expand_prompt: true, prompt: '   ' });
    expect(result!.outputs.expand).toEqual({ prompt: '   ', expanded: false, expansion_skipped: 'empty_prompt' });
    expect(fake.requests.length).toBe(before);
  });
});

describe('conditioning/encode-text prompt input (what prompt/expand feeds)', () => {
  it('a linked prompt overrides the prompt param', async () => {
    const { default: encodeText } = await import('../../nodes/conditioning/encode-text.js');
    const { models } = services({ MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint' });
    const ctx = { services: { models }, log: () => {}, throwIfCancelled: () => {} } as any;
    const clip = { model: 'tiny-sdxl-inpaint', loras: [], embeddings: [] };
    const defaults = { prompt_2: '', negative_prompt: '', negative_prompt_2: '', zero_empty_negative: true, clip_skip: 0, original_width: 0, original_height: 0, crop_top: 0, crop_left: 0, target_width: 0, target_height: 0 };
    const linked = await encodeText.execute({ clip, prompt: 'a red fox, golden hour' }, { ...defaults, prompt: 'ignored' }, ctx);
    const param = await encodeText.execute({ clip, prompt: undefined }, { ...defaults, prompt: 'a red fox, golden hour' }, ctx);
    const other = await encodeText.execute({ clip, prompt: undefined }, { ...defaults, prompt: 'ignored' }, ctx);
    expect(linked.positive.embeds).toEqual(param.positive.embeds);
    expect(linked.positive.embeds).not.toEqual(other.positive.embeds);
  });
});
