// expand_prompt through /v1/inpaint with a fake OpenAI-compatible endpoint (a real local
// HTTP server): the expanded prompt is used and returned; without an expander, 422 before queueing.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, REAL_NODES, startTestServer, type TestServer } from './helpers.js';
import { testInputs } from './inpaint-helpers.js';

const EXPANDED = 'a shiny red apple on a wooden table, soft window light';
let llm: http.Server;
const prompts: string[] = [];
let server: TestServer;
let plain: TestServer;
let base: Record<string, unknown>;

beforeAll(async () => {
  llm = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data) as { messages: Array<{ role: string; content: string }> };
      prompts.push(body.messages.at(-1)!.content);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ model: 'fake', choices: [{ index: 0, message: { role: 'assistant', content: EXPANDED }, finish_reason: 'stop' }] }));
    });
  });
  await new Promise<void>((r) => llm.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(llm.address() as AddressInfo).port}/v1`;
  const inputs = await testInputs();
  base = { prompt: 'an apple', image_url: inputs.imageUri, mask_url: inputs.maskUri, num_inference_steps: 2, seed: 9 };
  [server, plain] = await Promise.all([
    startTestServer({ MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint', MASKFLOW_PROMPT_EXPANDER_URL: url }, { nodeDirs: [REAL_NODES] }),
    startTestServer({}, {}), // no expander; refusal comes before validation, toy nodes suffice
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), plain?.stop()]);
  await new Promise<void>((r) => llm.close(() => r()));
});

describe('expand_prompt', () => {
  it('conditions on the expanded prompt and returns it', async () => {
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, expand_prompt: true });
    expect(r.status).toBe(200);
    expect(r.body.prompt).toBe(EXPANDED);
    expect(prompts).toContain('an apple');
    const off = await api(server, 'POST', '/v1/inpaint', base);
    expect(off.body.prompt).toBe('an apple');
  });

  it('refuses expand_prompt with 422 when no expander is configured', async () => {
    const r = await api(plain, 'POST', '/v1/inpaint', { ...base, expand_prompt: true });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'prompt_expansion_unavailable', field: 'expand_prompt' });
  });
});
