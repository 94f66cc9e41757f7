// The flat-body -> workflow-input mapping, on synthetic workflows (no server).
import { describe, expect, it } from 'vitest';
import { mapInpaintRequest } from '../../server/api/inpaint-mapping.js';
import type { InpaintRequest } from '../../server/api/inpaint-schema.js';
import type { Workflow } from '../../server/engine/workflow.js';

const wf = (inputs: string[]): Workflow => ({
  version: 1,
  inputs: Object.fromEntries(inputs.map((i) => [i, { node: 'n', param: i }])),
  nodes: { n: { type: 'x/y' }, save: { type: 'image/save-image', params: { format: 'png' } } },
});
const req = (over: Partial<InpaintRequest> = {}): InpaintRequest => ({ prompt: 'p', image_url: 'upload:a', mask_url: 'upload:b', ...over });

describe('mapInpaintRequest', () => {
  it('maps declared inputs, presets and LoRAs', () => {
    const all = wf(['prompt', 'image', 'mask', 'steps', 'width', 'height', 'loras', 'seed', 'expand_prompt']);
    const { inputs } = mapInpaintRequest(req({ num_inference_steps: 4, image_size: 'portrait_16_9', loras: [{ path: 'upload:l' }], seed: 3, expand_prompt: true }), all, new Set());
    expect(inputs).toEqual({ prompt: 'p', image: 'upload:a', mask: 'upload:b', steps: 4, width: 576, height: 1024, loras: [{ path: 'upload:l', scale: 1 }], seed: 3, expand_prompt: true });
    expect(mapInpaintRequest(req({ image_size: { width: 640, height: 320 } }), all, new Set()).inputs).toMatchObject({ width: 640, height: 320 });
  });

  it('skips undeclared defaults, refuses undeclared explicit values, and falls back to the save node for format', () => {
    const few = wf(['prompt', 'image', 'mask']);
    const mapped = mapInpaintRequest(req({ enable_safety_checker: true, guidance_scale: 7.5, format: 'jpeg' }), few, new Set(['prompt']));
    expect(mapped.inputs).toEqual({ prompt: 'p', image: 'upload:a', mask: 'upload:b' });
    expect(mapped.workflow.nodes.save!.params).toEqual({ format: 'jpeg' });
    expect(few.nodes.save!.params).toEqual({ format: 'png' }); // the saved workflow is not modified
    expect(() => mapInpaintRequest(req({ loras: [{ path: 'x' }] }), few, new Set(['loras']))).toThrow(/does not support loras/);
    expect(() => mapInpaintRequest(req({ expand_prompt: true }), few, new Set(['expand_prompt']))).toThrow(/expand_prompt/);
    // Explicitly asking for the feature to be off is fine where it does not exist.
    expect(() => mapInpaintRequest(req({ expand_prompt: false, loras: [] }), few, new Set(['expand_prompt', 'loras']))).not.toThrow();
  });
});
