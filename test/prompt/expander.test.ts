// PromptExpander against a real local OpenAI-compatible HTTP server.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatCompletionsUrl } from '../../server/prompt/endpoint.js';
import { PromptExpander, type PromptExpanderOptions } from '../../server/prompt/expander.js';
import { SDXL_EXPANSION_SYSTEM_PROMPT } from '../../server/prompt/system-prompt.js';
import { clipTokenCounter } from '../../server/prompt/clip-count.js';
import { ClipTokenizer } from '../../server/sdxl/tokenizer.js';
import type { TokenCounter } from '../../server/prompt/token-limit.js';
import { FakeOpenAI } from './fake-openai.js';

const MODEL_DIR = fileURLToPath(new URL('../fixtures/models/tiny-sdxl-inpaint/', import.meta.url));

let fake: FakeOpenAI;
let count: TokenCounter;
beforeAll(async () => {
  fake = await new FakeOpenAI().start();
  count = clipTokenCounter({
    tokenizer: await ClipTokenizer.fromDir(path.join(MODEL_DIR, 'tokenizer')),
    tokenizer2: await ClipTokenizer.fromDir(path.join(MODEL_DIR, 'tokenizer_2')),
  });
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.requests.length = 0;
});

function expander(over: Partial<PromptExpanderOptions> = {}): PromptExpander {
  return new PromptExpander({ url: fake.url, model: 'qwen2.5:1.5b', timeoutMs: 2000, ...over });
}

describe('endpoint URL', () => {
  it('accepts a server root, an API base or the full URL', () => {
    expect(chatCompletionsUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/v1/chat/completions');
    expect(chatCompletionsUrl('http://localhost:11434/v1/')).toBe('http://localhost:11434/v1/chat/completions');
    expect(chatCompletionsUrl('https://api.example.com/openai/v1/chat/completions')).toBe('https://api.example.com/openai/v1/chat/completions');
    expect(() => chatCompletionsUrl('ftp://x')).toThrow(/http/);
    expect(() => chatCompletionsUrl('not a url')).toThrow(/not a URL/);
  });
});

describe('PromptExpander', () => {
  it('sends the SDXL system prompt deterministically and returns the cleaned answer', async () => {
    fake.reply = { content: 'Expanded prompt: "a red fox in snow, golden hour backlight, low angle, shallow depth of field, National Geographic photo"' };
    const r = await expander({ apiKey: 'sk-test' }).expand('a red fox in snow', { seed: 42, countTokens: count });
    expect(r.prompt).toBe('a red fox in snow, golden hour backlight, low angle, shallow depth of field, National Geographic photo');
    expect(r.truncated).toBe(false);
    expect(r.tokens).toBe(count(r.prompt));
    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-test');
    expect(req.body).toMatchObject({
      model: 'qwen2.5:1.5b',
      temperature: 0,
      seed: 42,
      stream: false,
      messages: [
        { role: 'system', content: SDXL_EXPANSION_SYSTEM_PROMPT },
        { role: 'user', content: 'a red fox in snow' },
      ],
    });
  });

  it('non-deterministic: sampling temperature and no seed; no key, no Authorization', async () => {
    fake.reply = { content: 'a cat, soft light' };
    await expander({ systemPrompt: 'custom' }).expand('a cat', { deterministic: false, seed: 5 });
    const req = fake.requests[0]!;
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body.temperature).toBeGreaterThan(0);
    expect(req.body.seed).toBeUndefined();
    expect(req.body.messages[0].content).toBe('custom');
  });

  it('cuts an answer over 75 CLIP tokens at the last phrase that fits', async () => {
    const phrases = ['a lighthouse on a cliff at dusk'];
    for (let i = 0; i < 30; i++) phrases.push(`dramatic detail number ${i}`);
    fake.reply = { content: phrases.join(', ') };
    const r = await expander().expand('a lighthouse', { countTokens: count });
    expect(count(phrases.join(', '))).toBeGreaterThan(75);
    expect(r.truncated).toBe(true);
    expect(r.tokens).toBeLessThanOrEqual(75);
    expect(r.tokens).toBe(count(r.prompt));
    expect(r.prompt.startsWith('a lighthouse on a cliff at dusk, dramatic detail number 0')).toBe(true);
    expect(r.prompt).toMatch(/number \d+$/); // ends on a whole phrase
    // The next phrase would not have fitted.
    const next = phrases[r.prompt.split(', ').length]!;
    expect(count(`${r.prompt}, ${next}`)).toBeGreaterThan(75);
  });

  it('times out with prompt_expansion_timeout', async () => {
    fake.reply = { content: 'late', delayMs: 1500 };
    const t0 = Date.now();
    await expect(expander({ timeoutMs: 200 }).expand('a cat')).rejects.toMatchObject({ code: 'prompt_expansion_timeout' });
    expect(Date.now() - t0).toBeLessThan(1200);
  });

  it('rejects malformed JSON, missing choices, non-text content and empty answers', async () => {
    fake.reply = { raw: '{"choices": [' };
    await expect(expander().expand('a cat')).rejects.toMatchObject({ code: 'prompt_expansion_bad_reply', message: expect.stringMatching(/not JSON/) });
    fake.reply = { raw: '{"id": "x", "object": "chat.completion"}' };
    await expect(expander().expand('a cat')).rejects.toMatchObject({ code: 'prompt_expansion_bad_reply', message: expect.stringMatching(/choices/) });
    fake.reply = { raw: '{"choices": [{"message": {"role": "assistant", "content": null}}]}' };
    await expect(expander().expand('a cat')).rejects.toMatchObject({ code: 'prompt_expansion_bad_reply' });
    fake.reply = { content: '  <think>hmm</think>  ' };
    await expect(expander().expand('a cat')).rejects.toMatchObject({ code: 'prompt_expansion_bad_reply', message: expect.stringMatching(/empty/) });
  });

  it('reports HTTP errors with the upstream status and message', async () => {
    fake.reply = { status: 500, raw: '{"error": {"message": "model not loaded"}}' };
    await expect(expander().expand('a cat')).rejects.toMatchObject({
      code: 'prompt_expansion_failed',
      details: { status: 500 },
      message: expect.stringMatching(/HTTP 500: model not loaded/),
    });
  });

  it('reports an unreachable endpoint', async () => {
    const gone = await new FakeOpenAI().start();
    const url = gone.url;
    await gone.stop();
    await expect(new PromptExpander({ url, model: 'm', timeoutMs: 2000 }).expand('a cat')).rejects.toMatchObject({ code: 'prompt_expansion_unreachable' });
  });

  it('stops when the caller aborts (run cancelled)', async () => {
    fake.reply = { content: 'late', delayMs: 1500 };
    const ac = new AbortController();
    const p = expander().expand('a cat', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('cancelled by test')), 50);
    await expect(p).rejects.toThrow('cancelled by test');
  });

  it('accepts legacy text completions and strips reasoning blocks', async () => {
    fake.reply = { raw: JSON.stringify({ choices: [{ text: '<think>plan</think>\nHere is the prompt:\na cat, rim light' }] }) };
    expect((await expander().expand('a cat')).prompt).toBe('a cat, rim light');
  });
});
