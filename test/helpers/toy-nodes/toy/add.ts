import { defineNode, Type } from '../../../../server/engine/index.js';

export default defineNode({
  type: 'toy/add',
  title: 'Add',
  description: 'a + b + offset.',
  inputs: { a: { type: 'INT' }, b: { type: 'INT', optional: true } },
  outputs: { sum: { type: 'INT' } },
  params: Type.Object({ offset: Type.Integer({ default: 0, minimum: -1000, maximum: 1000 }) }, { additionalProperties: false }),
  async execute(inputs, params) {
    return { sum: inputs.a + (inputs.b ?? 0) + params.offset };
  },
});
