// ComfyUI's ControlNetLoader / ControlNetApply / ControlNetApplyAdvanced translate onto
// maskflow's ControlNet nodes (the control goes to the sampler) and run on a checkpoint.
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { translatePrompt } from '../../server/comfy/translate.js';
import { ComfyValidationError, type ComfyPrompt } from '../../server/comfy/spec.js';
import { loadNodes, NODES_DIR } from '../../server/engine/loader.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { api, until, type TestServer } from '../server/helpers.js';
import { FIXTURES } from '../sdxl/golden-io.js';
import { SINGLE, scratchModels } from '../checkpoints/helpers.js';
import { fakeEnv, inpaintPrompt } from './helpers.js';
import { photoWithHole, startComfyServer, uploadImage } from './server-helpers.js';

let registry: NodeRegistry;
beforeAll(async () => {
  registry = await loadNodes([NODES_DIR]);
});

/** The inpainting prompt with two ControlNets: the old Apply on the positive prompt, then Apply (Advanced) with a window. */
function controlPrompt(ckpt = 'tiny-sdxl-inpaint', end = 0.5): ComfyPrompt {
  const p = inpaintPrompt({ ckpt });
  return {
    ...p,
    '20': { class_type: 'ControlNetLoader', inputs: { control_net_name: 'tiny-controlnet' } },
    '21': { class_type: 'ControlNetApply', inputs: { conditioning: ['6', 0], control_net: ['20', 0], image: ['10', 0], strength: 0.7 } },
    '22': { class_type: 'ControlNetApplyAdvanced', inputs: { positive: ['21', 0], negative: ['7', 0], control_net: ['20', 0], image: ['10', 0], strength: 0.5, start_percent: 0, end_percent: end } },
    '3': { ...p['3']!, inputs: { ...p['3']!.inputs, positive: ['22', 0], negative: ['22', 1] } },
  };
}

describe('ComfyUI ControlNet classes', () => {
  it('translate to load-controlnet -> apply-controlnet (chained) -> the sampler\'s control input', async () => {
    const t = await translatePrompt(controlPrompt(), registry, fakeEnv());
    expect(validateWorkflow(t.workflow, registry).problems).toEqual([]);
    const nodes = Object.entries(t.workflow.nodes);
    const applies = nodes.filter(([, n]) => n.type === 'conditioning/apply-controlnet');
    expect(applies.map(([, n]) => n.params)).toEqual([
      { strength: 0.7, start: 0, end: 1 },
      { strength: 0.5, start: 0, end: 0.5 },
    ]);
    const [firstId] = applies[0]!;
    const [secondId, second] = applies[1]!;
    expect(second.inputs!.control).toEqual([firstId, 'control']);
    const sampler = nodes.find(([, n]) => n.type === 'sampling/denoise')![1];
    expect(sampler.inputs!.control).toEqual([secondId, 'control']);
    // The conditioning passes through unchanged.
    expect(sampler.inputs!.positive).toEqual(['6', 'positive']);
    expect(nodes.find(([, n]) => n.type === 'models/load-controlnet')![1].params).toEqual({ controlnet: 'tiny-controlnet' });
  });

  it('refuses an empty guidance window and an unknown ControlNet in ComfyUI\'s error shape', async () => {
    const bad = async (p: ComfyPrompt) => {
      try {
        await translatePrompt(p, registry, fakeEnv());
      } catch (e) {
        return (e as ComfyValidationError).body;
      }
      throw new Error('accepted');
    };
    const window = await bad(controlPrompt('tiny-sdxl-inpaint', 0));
    expect(window.node_errors['22']).toMatchObject({ class_type: 'ControlNetApplyAdvanced' });
    const p = controlPrompt();
    p['20'] = { class_type: 'ControlNetLoader', inputs: { control_net_name: 'nope' } };
    expect((await bad(p)).node_errors['20']!.errors[0]!.type).toBe('value_not_in_list');
  });
});

describe('a ComfyUI ControlNet prompt runs on a checkpoint', () => {
  const scratch = scratchModels();
  let server: TestServer;
  beforeAll(async () => {
    mkdirSync(path.join(scratch.modelsDir, 'controlnet'));
    symlinkSync(path.join(FIXTURES, 'controlnet', 'tiny-controlnet'), path.join(scratch.modelsDir, 'controlnet', 'tiny-controlnet'), 'dir');
    server = await startComfyServer({ MASKFLOW_MODELS_DIR: scratch.modelsDir });
  });
  afterAll(async () => {
    await server?.stop();
    scratch.cleanup();
  });

  it('POST /prompt with ControlNetLoader + Apply ControlNet reaches history with an image', async () => {
    expect((await api(server, 'GET', '/models/controlnet')).body).toEqual(['tiny-controlnet']);
    await uploadImage(server, await photoWithHole(), 'photo.png');
    const prompt = controlPrompt(SINGLE);
    (prompt['10'] as { inputs: Record<string, unknown> }).inputs.image = 'photo.png';
    const r = await api(server, 'POST', '/prompt', { prompt, client_id: 'cn-test' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const entry = await until(async () => (await api(server, 'GET', `/history/${r.body.prompt_id}`)).body[r.body.prompt_id], 60_000);
    expect(entry.status.status_str, JSON.stringify(entry.status)).toBe('success');
    expect(entry.outputs['9'].images).toHaveLength(1);
  });
});
