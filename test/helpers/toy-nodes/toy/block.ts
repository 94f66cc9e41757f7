import { defineNode, Type } from '../../../../server/engine/index.js';

// Blocks its thread like a synchronous ORT run() would.
export default defineNode({
  type: 'toy/block',
  title: 'Block',
  description: 'Busy-waits for ms milliseconds.',
  inputs: { value: { type: 'INT' } },
  outputs: { value: { type: 'INT' } },
  params: Type.Object({ ms: Type.Integer({ default: 2000, minimum: 0 }) }, { additionalProperties: false }),
  cache: false,
  async execute(inputs, params) {
    const end = Date.now() + params.ms;
    while (Date.now() < end) {
      /* spin */
    }
    return { value: inputs.value };
  },
});
