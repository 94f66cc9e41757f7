import { defineNode, Type } from '../../server/engine/index.js';
import { loadImage, urlParamFingerprint, withDetails } from '../../server/image/load.js';
import type { ImageBatch } from '../../server/image/types.js';

export default defineNode({
  type: 'image/load-image',
  title: 'Load image',
  description:
    'Loads a JPEG, PNG, WebP, GIF (first frame) or AVIF image from an http(s) URL, a data URI, an upload ' +
    '(upload:<id> or /v1/files/<id>) or, from the CLI only, a local path. EXIF orientation is applied. ' +
    'URLs may not reach private or loopback addresses unless MASKFLOW_URL_ALLOWLIST admits them; size, pixel, ' +
    'redirect and time limits apply. With alpha_as_mask, transparent pixels become the mask to repaint.',
  inputs: {},
  outputs: {
    image: { type: 'IMAGE', description: 'The image (a batch of one), 8-bit RGB.' },
    alpha_mask: { type: 'MASK', description: 'Transparent = 1 (repaint) when alpha_as_mask is on and the image has alpha; otherwise all 0.' },
  },
  params: Type.Object(
    {
      url: Type.String({ default: '', description: 'http(s) URL, data URI, upload:<id>, /v1/files/<id>, or a local path (CLI only).' }),
      alpha_as_mask: Type.Boolean({ default: false, description: 'Output the alpha channel as a mask: transparent = repaint.' }),
    },
    { additionalProperties: false },
  ),
  fingerprint: (params, ctx) => urlParamFingerprint(params.url, ctx),
  async execute(_inputs, params, ctx) {
    try {
      const loaded = await loadImage(params.url, {
        config: ctx.services.config,
        files: ctx.files,
        signal: ctx.signal,
        runId: ctx.runId,
        alphaAsMask: params.alpha_as_mask,
      });
      const { width, height } = loaded.image;
      ctx.log('debug', `loaded ${loaded.format} image ${width}x${height}`, { alpha: loaded.hasAlpha });
      if (params.alpha_as_mask && !loaded.hasAlpha) ctx.log('warn', 'alpha_as_mask is on but the image has no alpha channel: the mask is empty');
      const image: ImageBatch = [loaded.image];
      return { image, alpha_mask: loaded.alphaMask };
    } catch (err) {
      ctx.throwIfCancelled();
      throw withDetails(err, { param: 'url' });
    }
  },
});
