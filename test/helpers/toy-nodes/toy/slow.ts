import { defineNode, Type } from '../../../../server/engine/index.js';

// Passes its input through after `steps` async steps of `ms` each, reporting progress
// and stopping as soon as the run is cancelled.
export default defineNode({
  type: 'toy/slow',
  title: 'Slow',
  description: 'Waits step by step, reporting progress.',
  inputs: { value: { type: 'INT' } },
  outputs: { value: { type: 'INT' } },
  params: Type.Object(
    { steps: Type.Integer({ default: 5, minimum: 1 }), ms: Type.Integer({ default: 20, minimum: 0 }), seed: Type.Integer({ default: 0 }) },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    for (let i = 0; i < params.steps; i++) {
      ctx.throwIfCancelled();
      await new Promise((r) => setTimeout(r, params.ms));
      ctx.progress(i + 1, params.steps);
    }
    return { value: inputs.value + params.seed };
  },
});
