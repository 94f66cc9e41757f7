import { defineNode, Type } from '../../../../server/engine/index.js';

export default defineNode({
  type: 'toy/constant',
  title: 'Constant',
  description: 'Outputs its value param.',
  inputs: {},
  outputs: { value: { type: 'INT' } },
  params: Type.Object({ value: Type.Integer({ default: 1 }) }, { additionalProperties: false }),
  async execute(_inputs, params) {
    return { value: params.value };
  },
});
