import { describe, expect, it } from 'vitest';
import { cleanReply } from '../../server/prompt/reply.js';
import { fitToTokens } from '../../server/prompt/token-limit.js';
import { promptExpansionRefusal, promptExpansionStatus, promptExpansionAvailable } from '../../server/prompt/availability.js';
import { loadConfig } from '../../server/config.js';

describe('cleanReply', () => {
  it.each([
    ['"a cat, soft light"', 'a cat, soft light'],
    ['Prompt: a cat, soft light', 'a cat, soft light'],
    ['Here is an expanded prompt:\na cat,\nsoft light', 'a cat, soft light'],
    ['```\na cat, soft light\n```', 'a cat, soft light'],
    ['<think>the user wants\na cat</think>a cat, soft light', 'a cat, soft light'],
    ['<think>never finished', ''],
    ['a "quoted" cat', 'a "quoted" cat'],
    ['  a   cat ,, soft   light , ', 'a cat, soft light'],
    ['- a cat, soft light', 'a cat, soft light'],
  ])('%j -> %j', (input, out) => {
    expect(cleanReply(input)).toBe(out);
  });
});

describe('fitToTokens', () => {
  const words: (t: string) => number = (t) => (t.trim() ? t.trim().split(/[\s,]+/).filter(Boolean).length : 0);
  it('keeps text within the limit untouched', () => {
    expect(fitToTokens('a b, c', words, 3)).toEqual({ text: 'a b, c', tokens: 3, truncated: false });
  });
  it('cuts at the last phrase boundary that fits', () => {
    expect(fitToTokens('a b, c d, e f, g h', words, 5)).toEqual({ text: 'a b, c d', tokens: 4, truncated: true });
  });
  it('cuts a single long phrase at a word boundary', () => {
    expect(fitToTokens('a b c d e f, g', words, 3)).toEqual({ text: 'a b c', tokens: 3, truncated: true });
  });
});

describe('availability (for the REST layer, before queueing)', () => {
  it('refuses expand_prompt with 422 when no expander is configured', () => {
    expect(promptExpansionRefusal(loadConfig({}), true)).toMatchObject({ status: 422, code: 'prompt_expansion_unavailable' });
    expect(promptExpansionRefusal(loadConfig({}), false)).toBeUndefined();
    expect(promptExpansionRefusal(loadConfig({}), undefined)).toBeUndefined();
    expect(promptExpansionRefusal(loadConfig({ MASKFLOW_PROMPT_EXPANDER_URL: 'http://127.0.0.1:1/v1' }), true)).toBeUndefined();
  });
  it('treats an unusable URL as unavailable', () => {
    expect(promptExpansionAvailable(loadConfig({ MASKFLOW_PROMPT_EXPANDER_URL: 'file:///etc/passwd' }))).toBe(false);
  });
  it('reports status without secrets', () => {
    const s = promptExpansionStatus(loadConfig({ MASKFLOW_PROMPT_EXPANDER_URL: 'https://user:pw@api.example.com/v1?key=abc', MASKFLOW_PROMPT_EXPANDER_KEY: 'sk-secret', MASKFLOW_PROMPT_EXPANDER_MODEL: 'gpt-x' }));
    expect(s).toEqual({ available: true, model: 'gpt-x', url: 'https://api.example.com/v1', timeout_ms: 30000 });
    expect(JSON.stringify(s)).not.toMatch(/secret|pw|abc/);
    expect(promptExpansionStatus(loadConfig({}))).toEqual({ available: false });
  });
});
