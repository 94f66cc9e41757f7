import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { encodeTextNode } from '../../server/sdxl/nodes-support.js';

export default defineNode({
  type: 'conditioning/encode-text',
  title: 'Encode prompt (SDXL)',
  description:
    'Encodes the prompt and negative prompt with both SDXL text encoders (penultimate hidden states concatenated, pooled ' +
    'embeds from text_encoder_2). prompt_2 / negative_prompt_2 go to the second encoder when set. An empty negative prompt ' +
    'gives zero embeddings when the model sets force_zeros_for_empty_prompt (diffusers\' behaviour for a missing negative), ' +
    'unless zero_empty_negative is off. Size conditioning of 0 means the output size.',
  inputs: {
    clip: { type: 'CLIP' },
    prompt: { type: 'STRING', optional: true, description: 'Overrides the prompt param when linked (e.g. from prompt/expand).' },
  },
  outputs: {
    positive: { type: 'CONDITIONING' },
    negative: { type: 'CONDITIONING' },
  },
  params: Type.Object(
    {
      prompt: Type.String({ default: '', description: 'What to generate.' }),
      prompt_2: Type.String({ default: '', description: 'Prompt for the second text encoder; "" = same as prompt.' }),
      negative_prompt: Type.String({ default: '', description: 'What to avoid.' }),
      negative_prompt_2: Type.String({ default: '', description: 'Negative prompt for the second encoder; "" = same as negative_prompt.' }),
      zero_empty_negative: Type.Boolean({
        default: true,
        description: 'An empty negative prompt means "none": zero embeddings when the model forces them (diffusers default).',
      }),
      clip_skip: Type.Integer({ default: 0, minimum: 0, maximum: 10, description: 'Extra layers to skip (diffusers clip_skip).' }),
      original_width: Type.Integer({ default: 0, minimum: 0, maximum: 8192, description: 'SDXL original_size width; 0 = output width.' }),
      original_height: Type.Integer({ default: 0, minimum: 0, maximum: 8192, description: 'SDXL original_size height; 0 = output height.' }),
      crop_top: Type.Integer({ default: 0, minimum: 0, maximum: 8192 }),
      crop_left: Type.Integer({ default: 0, minimum: 0, maximum: 8192 }),
      target_width: Type.Integer({ default: 0, minimum: 0, maximum: 8192, description: 'SDXL target_size width; 0 = output width.' }),
      target_height: Type.Integer({ default: 0, minimum: 0, maximum: 8192, description: 'SDXL target_size height; 0 = output height.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, rawParams, ctx) {
    // A linked prompt (e.g. the output of prompt/expand) overrides the param.
    const params = inputs.prompt !== undefined ? { ...rawParams, prompt: inputs.prompt } : rawParams;
    if (!params.prompt.trim() && !params.prompt_2.trim()) ctx.log('info', 'empty prompt: the model is conditioned on ""');
    try {
      const { positive, negative, truncated } = await encodeTextNode(ctx.services.models, inputs.clip, params);
      if (truncated.positive) ctx.log('warn', 'prompt is longer than 75 tokens; the rest was dropped (CLIP limit)');
      if (truncated.negative) ctx.log('warn', 'negative prompt is longer than 75 tokens; the rest was dropped (CLIP limit)');
      return { positive, negative };
    } catch (err) {
      if (err instanceof NodeError) throw err;
      throw new NodeError('text_encoding_failed', `prompt encoding failed: ${(err as Error).message}`, { input: 'clip' });
    }
  },
});
