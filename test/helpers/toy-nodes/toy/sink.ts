import { defineNode, Type } from '../../../../server/engine/index.js';

export default defineNode({
  type: 'toy/sink',
  title: 'Sink',
  description: 'Reports its input as the run result.',
  inputs: { value: { type: 'INT' } },
  outputs: {},
  output: true,
  params: Type.Object({ label: Type.String({ default: 'result' }) }, { additionalProperties: false }),
  async execute(inputs, params) {
    return { ui: { [params.label]: inputs.value } };
  },
});
