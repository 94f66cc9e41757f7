// safety/check-image through the real validator and executor, configured and unconfigured.
import path from 'node:path';
import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LoadSession } from '../../server/safety/checker.js';
import { createSafetyService } from '../../server/safety/service.js';
import { GraphBuilder } from '../helpers/graph-builder.js';
import { CAPTURED, IMAGE_SOURCES, runWorkflow, testConfig } from './harness.js';
import { CASES, CLASSIFIER_DIR, SD_CHECKER_DIR, caseDir, readPng } from './fixtures.js';
import type { RgbImage } from '../../server/image/types.js';

const load: LoadSession = (p) => ort.InferenceSession.create(p, { executionProviders: ['cpu'], logSeverityLevel: 3 });

function graph() {
  const g = new GraphBuilder();
  const src = g.add('test/images', { key: 'batch' }, {}, 'src');
  const safety = g.add('safety/check-image', {}, { image: src.out('image') }, 'safety');
  g.add('test/capture-images', { label: 'out' }, { image: safety.out('image') }, 'save');
  g.expose('enable_safety_checker', safety, 'enabled');
  return g.build();
}

let batch: RgbImage[];
beforeAll(async () => {
  // img0 (clean) and img1 (flagged by the SD checker; nsfw for the classifier too).
  batch = await Promise.all([0, 1].map((i) => readPng(path.join(caseDir(CASES[i]!.name), 'image.png'))));
  IMAGE_SOURCES.set('batch', batch);
});

describe('safety/check-image node', () => {
  it('SD checker configured: flags per image and blacks out the flagged one', async () => {
    const config = testConfig({ MASKFLOW_SAFETY_MODEL: SD_CHECKER_DIR });
    const { result, error } = await runWorkflow(graph(), { config, safety: createSafetyService(config, undefined, load) });
    expect(error).toBeUndefined();
    expect(result!.outputs.safety).toEqual({ has_nsfw_concepts: [false, true], safety_checked: [true, true], safety_model: 'stable_diffusion_safety_checker', safety_action: 'black' });
    const out = CAPTURED.get('out') as RgbImage[];
    expect(out[0]!.data).toEqual(batch[0]!.data);
    expect(out[1]!.data.every((v) => v === 0)).toBe(true);
  });

  it('classifier configured: reports probabilities, blurs with action=blur', async () => {
    const config = testConfig({ MASKFLOW_SAFETY_MODEL: CLASSIFIER_DIR, MASKFLOW_SAFETY_ACTION: 'blur' });
    const { result } = await runWorkflow(graph(), { config, safety: createSafetyService(config, undefined, load) });
    const ui = result!.outputs.safety as { has_nsfw_concepts: boolean[]; probabilities: number[]; safety_action: string };
    expect(ui.has_nsfw_concepts).toEqual([false, true]);
    expect(ui.safety_action).toBe('blur');
    expect(ui.probabilities[0]).toBeCloseTo(CASES[0]!.classifier_probabilities[1], 4);
    expect(ui.probabilities[1]).toBeCloseTo(CASES[1]!.classifier_probabilities[1], 4);
    const out = CAPTURED.get('out') as RgbImage[];
    expect(out[1]).toMatchObject({ width: 96, height: 128 });
    expect(Buffer.from(out[1]!.data).equals(Buffer.from(batch[1]!.data))).toBe(false);
    expect(out[1]!.data.some((v) => v !== 0)).toBe(true);
  });

  it('enable_safety_checker=false skips the model', async () => {
    const config = testConfig({ MASKFLOW_SAFETY_MODEL: SD_CHECKER_DIR });
    const { result } = await runWorkflow(graph(), { config, safety: createSafetyService(config, undefined, load) }, { enable_safety_checker: false });
    expect(result!.outputs.safety).toEqual({ has_nsfw_concepts: [false, false], safety_checked: [false, false], safety_skipped: 'disabled' });
    expect((CAPTURED.get('out') as RgbImage[])[1]!.data).toEqual(batch[1]!.data);
  });

  it('unconfigured, policy report: runs and says the check was not performed', async () => {
    const config = testConfig();
    const { result } = await runWorkflow(graph(), { config, safety: createSafetyService(config) });
    expect(result!.outputs.safety).toEqual({ has_nsfw_concepts: [false, false], safety_checked: [false, false], safety_skipped: 'not_configured' });
  });

  it('unconfigured, policy refuse: the run fails with safety_checker_unavailable', async () => {
    const config = testConfig({ MASKFLOW_SAFETY_POLICY: 'refuse' });
    const { error } = await runWorkflow(graph(), { config, safety: createSafetyService(config) });
    expect(error).toMatchObject({ code: 'safety_checker_unavailable', nodeId: 'safety', param: 'enabled' });
    const off = await runWorkflow(graph(), { config, safety: createSafetyService(config) }, { enable_safety_checker: false });
    expect(off.error).toBeUndefined();
  });

  it('treats services without a safety entry as "no model" (partial services in embedders and tests)', async () => {
    const { result } = await runWorkflow(graph(), { config: testConfig() });
    expect(result!.outputs.safety).toMatchObject({ safety_checked: [false, false], safety_skipped: 'not_configured' });
    const refuse = await runWorkflow(graph(), { config: testConfig({ MASKFLOW_SAFETY_POLICY: 'refuse' }) });
    expect(refuse.error?.code).toBe('safety_checker_unavailable');
  });

  it('rejects an unknown action at validation', async () => {
    const config = testConfig();
    const wf = graph();
    wf.nodes.safety!.params = { action: 'pixelate' };
    const { problems } = await runWorkflow(wf, { config, safety: createSafetyService(config) });
    expect(problems).toEqual([expect.objectContaining({ nodeId: 'safety', code: 'invalid_param', path: 'nodes.safety.params.action' })]);
  });
});
