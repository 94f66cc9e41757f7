import { defineNode, NodeError, Type } from '../../../../server/engine/index.js';

export default defineNode({
  type: 'toy/fail',
  title: 'Fail',
  description: 'Throws a NodeError, or crashes its worker.',
  inputs: { value: { type: 'INT' } },
  outputs: { value: { type: 'INT' } },
  params: Type.Object(
    { code: Type.String({ default: 'toy_failure' }), crash: Type.Boolean({ default: false }) },
    { additionalProperties: false },
  ),
  async execute(_inputs, params) {
    if (params.crash) process.exit(3);
    throw new NodeError(params.code, 'toy node failed on purpose', { input: 'value' });
  },
});
