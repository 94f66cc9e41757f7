// workflows/sdxl-inpaint.json end to end with the tiny fixture models: the expander and the
// safety checker are real nodes the public inputs switch, in configured and unconfigured states.
import { readFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import type { RunEvent } from '../../server/engine/events.js';
import { silentLogger } from '../../server/log.js';
import { JobRunner } from '../../server/worker/runner.js';
import { FakeOpenAI } from '../prompt/fake-openai.js';
import { SD_CHECKER_DIR } from './fixtures.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WORKFLOW = JSON.parse(readFileSync(path.join(REPO, 'workflows/sdxl-inpaint.json'), 'utf8'));

let fake: FakeOpenAI;
let image: string;
let mask: string;
beforeAll(async () => {
  fake = await new FakeOpenAI().start();
  const png = (r: number, g: number, b: number) =>
    sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } }).png().toBuffer();
  image = `data:image/png;base64,${(await png(200, 120, 40)).toString('base64')}`;
  mask = `data:image/png;base64,${(await png(255, 255, 255)).toString('base64')}`;
});
afterAll(() => fake.stop());

async function run(env: Record<string, string>, inputs: Record<string, unknown>): Promise<RunEvent> {
  const config = loadConfig({
    MASKFLOW_MODELS_DIR: path.join(REPO, 'test/fixtures/models'),
    MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint',
    MASKFLOW_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'maskflow-wf-')),
    MASKFLOW_THREADS: '1',
    ...env,
  });
  const runner = await JobRunner.create(config, silentLogger);
  let final: RunEvent | undefined;
  await runner.run({ runId: 'r', workflow: WORKFLOW, inputs: { prompt: 'a cat', image, mask, steps: 1, ...inputs } }, (e) => {
    if (e.type === 'run:done' || e.type === 'run:error' || e.type === 'run:cancelled') final = e;
  });
  return final!;
}

describe('sdxl-inpaint workflow: expansion and safety nodes', () => {
  it('declares the public inputs the REST facade maps', () => {
    expect(WORKFLOW.inputs.expand_prompt).toMatchObject({ node: 'expand', param: 'enabled' });
    expect(WORKFLOW.inputs.enable_safety_checker).toMatchObject({ node: 'safety', param: 'enabled' });
    expect(WORKFLOW.nodes.expand.type).toBe('prompt/expand');
    expect(WORKFLOW.nodes.safety.type).toBe('safety/check-image');
  });

  it('configured: the expanded prompt is encoded and reported, outputs are checked', async () => {
    fake.requests.length = 0;
    fake.reply = { content: 'a cat, warm window light, close-up, soft focus' };
    const e = await run({ MASKFLOW_PROMPT_EXPANDER_URL: fake.url, MASKFLOW_SAFETY_MODEL: SD_CHECKER_DIR }, { expand_prompt: true });
    expect(e.type).toBe('run:done');
    if (e.type !== 'run:done') return;
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.body.messages[1].content).toBe('a cat');
    expect(e.outputs.expand).toMatchObject({ prompt: 'a cat, warm window light, close-up, soft focus', expanded: true, expanded_prompt: 'a cat, warm window light, close-up, soft focus' });
    expect(e.outputs.safety).toMatchObject({ safety_checked: [true], safety_model: 'stable_diffusion_safety_checker' });
    expect((e.outputs.safety as { has_nsfw_concepts: boolean[] }).has_nsfw_concepts).toHaveLength(1);
    expect(e.executed).toEqual(expect.arrayContaining(['expand', 'safety', 'save']));
  });

  it('unconfigured: no expansion by default, and the response says no check ran', async () => {
    const e = await run({}, {});
    expect(e.type).toBe('run:done');
    if (e.type !== 'run:done') return;
    expect(e.outputs.expand).toEqual({ prompt: 'a cat', expanded: false });
    expect(e.outputs.safety).toEqual({ has_nsfw_concepts: [false], safety_checked: [false], safety_skipped: 'not_configured' });
  });

  it('unconfigured: expand_prompt fails with prompt_expansion_unavailable; policy refuse fails the check', async () => {
    const a = await run({}, { expand_prompt: true });
    expect(a).toMatchObject({ type: 'run:error', error: { code: 'prompt_expansion_unavailable', nodeId: 'expand' } });
    const b = await run({ MASKFLOW_SAFETY_POLICY: 'refuse' }, { enable_safety_checker: true });
    expect(b).toMatchObject({ type: 'run:error', error: { code: 'safety_checker_unavailable', nodeId: 'safety' } });
  });
});
