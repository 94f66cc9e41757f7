// The facade's safety fields with the real safety/check-image node and the tiny classifier
// fixture. The inpaint workflow is given a safety node here (when it has none yet), so the
// test exercises the facade's mapping whatever stage the built-in workflow is at.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, REAL_NODES, REPO, startTestServer, tempDir, type TestServer } from './helpers.js';
import { testInputs } from './inpaint-helpers.js';

const workflowsDir = tempDir('maskflow-wf-');
let server: TestServer;
let refusing: TestServer;
let base: Record<string, unknown>;

/** The built-in inpaint workflow with a safety check between composite and save (unless it has one). */
function withSafety(): unknown {
  const wf = JSON.parse(readFileSync(path.join(REPO, 'workflows/sdxl-inpaint.json'), 'utf8'));
  if (Object.values(wf.nodes).some((n: any) => n.type === 'safety/check-image')) return wf;
  const saveId = Object.keys(wf.nodes).find((id) => wf.nodes[id].type === 'image/save-image')!;
  wf.nodes.safety_check = { type: 'safety/check-image', inputs: { image: wf.nodes[saveId].inputs.image } };
  wf.nodes[saveId].inputs.image = ['safety_check', 'image'];
  wf.inputs.enable_safety_checker = { node: 'safety_check', param: 'enabled' };
  return wf;
}

beforeAll(async () => {
  mkdirSync(workflowsDir, { recursive: true });
  writeFileSync(path.join(workflowsDir, 'sdxl-inpaint.json'), JSON.stringify(withSafety()));
  const inputs = await testInputs();
  base = { prompt: 'a red apple', image_url: inputs.imageUri, mask_url: inputs.maskUri, num_inference_steps: 2, seed: 5 };
  [server, refusing] = await Promise.all([
    startTestServer(
      { MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint', MASKFLOW_SAFETY_MODEL: path.join(REPO, 'test/fixtures/safety/nsfw_image_classifier') },
      { nodeDirs: [REAL_NODES], builtinWorkflowsDir: workflowsDir },
    ),
    // Refusal happens before the workflow is validated, so toy nodes suffice here.
    startTestServer({ MASKFLOW_SAFETY_POLICY: 'refuse' }, { builtinWorkflowsDir: workflowsDir }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), refusing?.stop()]);
  rmSync(workflowsDir, { recursive: true, force: true });
});

describe('safety checking through /v1/inpaint', () => {
  it('reports the checker verdict per image when enabled (the default)', async () => {
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, num_images: 2 });
    expect(r.status).toBe(200);
    expect(r.body.safety_checked).toEqual([true, true]);
    expect(r.body.has_nsfw_concepts).toHaveLength(2);
    expect(r.body.has_nsfw_concepts.every((v: unknown) => typeof v === 'boolean')).toBe(true);
    expect(r.body.safety_skipped).toBeUndefined();
    expect((await api(server, 'GET', '/health')).body.safety).toMatchObject({ available: true });
  });

  it('says so when the check was disabled', async () => {
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, enable_safety_checker: false });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ has_nsfw_concepts: [false], safety_checked: [false], safety_skipped: 'disabled' });
  });

  it('refuses before queueing when a check is asked for and policy is refuse without a model', async () => {
    const r = await api(refusing, 'POST', '/v1/inpaint', base);
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: 'safety_checker_unavailable', field: 'enable_safety_checker' });
    expect((await api(refusing, 'GET', '/v1/runs')).body.runs).toEqual([]);
  });
});
