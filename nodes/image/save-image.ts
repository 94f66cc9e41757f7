import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { CONTENT_TYPES, encodeImage } from '../../server/image/io.js';
import { workflowForEmbedding } from '../../server/image/png-metadata.js';

/** The PNG's text chunks: the workflow (embed_workflow), then the extra chunks given. */
function pngText(params: { embed_workflow: boolean; text_chunks: Record<string, string> }, workflow: unknown): Record<string, string> {
  const out: Record<string, string> = params.embed_workflow ? { workflow: JSON.stringify(workflowForEmbedding(workflow)) } : {};
  return { ...out, ...params.text_chunks };
}

export default defineNode({
  type: 'image/save-image',
  title: 'Save image',
  description:
    'Encodes each image (PNG, JPEG or WebP) and stores it as a run output. A PNG carries the workflow JSON in a ' +
    '"workflow" text chunk (embed_workflow; inline data-URI inputs are left out), so the saved image can be loaded back as its workflow.',
  inputs: { image: { type: 'IMAGE' } },
  outputs: {},
  output: true,
  // Always store: a cached result would point at files a cleanup may have removed.
  cache: false,
  params: Type.Object(
    {
      format: Type.Union([Type.Literal('png'), Type.Literal('jpeg'), Type.Literal('webp')], { default: 'png', description: 'File format (PNG is lossless).' }),
      quality: Type.Integer({ default: 90, minimum: 1, maximum: 100, description: 'JPEG / WebP quality.' }),
      embed_workflow: Type.Boolean({ default: true, description: 'Store the workflow in the PNG.' }),
      text_chunks: Type.Record(Type.String({ pattern: '^[\\x20-\\x7e]{1,79}$' }), Type.String(), {
        default: {},
        description: 'More PNG text chunks (keyword -> text), e.g. ComfyUI\'s prompt and workflow; a "workflow" entry replaces the embedded workflow.',
      }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params, ctx) {
    if (inputs.image.length === 0) throw new NodeError('empty_image_batch', 'no image to save', { input: 'image' });
    const images = [];
    for (const img of inputs.image) {
      ctx.throwIfCancelled();
      const bytes = await encodeImage(img, {
        format: params.format,
        quality: params.quality,
        ...(params.format === 'png' ? { pngText: pngText(params, ctx.workflow) } : {}),
      });
      const ext = params.format === 'jpeg' ? 'jpg' : params.format;
      const stored = await ctx.files.save(bytes, { contentType: CONTENT_TYPES[params.format], ext });
      images.push({ id: stored.id, filename: stored.filename, content_type: stored.contentType, width: img.width, height: img.height, size: stored.size });
    }
    return { ui: { images } };
  },
});
