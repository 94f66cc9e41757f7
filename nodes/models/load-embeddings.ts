import { defineNode, Type } from '../../server/engine/index.js';
import { addEmbeddings } from '../../server/models/adapter-nodes.js';

export default defineNode({
  type: 'models/load-embeddings',
  title: 'Load embeddings',
  description:
    'Adds textual-inversion embeddings to the text encoders. SDXL files (clip_l + clip_g) apply to both encoders, ' +
    'single-encoder files to the encoder of matching width. The token (default: the file name without extension) can be ' +
    'used in prompts; an embedding with N vectors expands to N tokens as diffusers does. A path is a file name in the ' +
    'models folder\'s embeddings/ directory, an uploaded file id, or an http(s) URL.',
  inputs: { clip: { type: 'CLIP' } },
  outputs: { clip: { type: 'CLIP', description: 'The text encoders and tokenizers with the embeddings.' } },
  params: Type.Object(
    {
      embeddings: Type.Array(
        Type.Object(
          {
            path: Type.String({ minLength: 1, description: 'File name, upload id or URL.' }),
            token: Type.Optional(Type.String({ description: 'Token used in prompts; default: the file name without extension.' })),
            tokens: Type.Optional(
              Type.Array(Type.String({ minLength: 1 }), { maxItems: 75, description: 'Or one token per vector, e.g. ["<s0>", "<s1>"].' }),
            ),
          },
          { additionalProperties: false },
        ),
        { default: [], maxItems: 32, description: 'Embeddings to add (the API\'s `embeddings`: [{path, tokens}]).' },
      ),
    },
    { additionalProperties: false },
  ),
  async fingerprint(params, ctx) {
    return (await Promise.all(params.embeddings.map((e) => ctx.services.adapters.sources.fingerprint('embedding', e.path)))).join('|');
  },
  async execute(inputs, params, ctx) {
    if (!params.embeddings.length) return { clip: inputs.clip };
    const { models, adapters } = ctx.services;
    return { clip: await addEmbeddings(inputs.clip, params.embeddings, { models, adapters, files: ctx.files, signal: ctx.signal, log: ctx.log }) };
  },
});
