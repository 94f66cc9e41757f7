import { defineNode, Type } from '../../../../server/engine/index.js';

export default defineNode({
  type: 'toy/to-text',
  title: 'To text',
  description: 'Formats a number as text.',
  inputs: { value: { type: 'INT' } },
  outputs: { text: { type: 'STRING' } },
  params: Type.Object({ prefix: Type.String({ default: '' }) }, { additionalProperties: false }),
  async execute(inputs, params) {
    return { text: `${params.prefix}${inputs.value}` };
  },
});
