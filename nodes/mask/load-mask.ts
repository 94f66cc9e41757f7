import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { loadMask, urlParamFingerprint, withDetails } from '../../server/image/load.js';
import { invertMask, maskStats, resizeMask } from '../../server/image/mask.js';

export default defineNode({
  type: 'mask/load-mask',
  title: 'Load mask',
  description:
    'Loads a mask image (same sources and formats as Load image): white = repaint, black = keep, grey levels kept ' +
    'as a soft mask. RGB is converted to grey as diffusers does (luma); an alpha channel darkens (transparent = keep). ' +
    'With an image linked, a mask of another size is stretched to the image size (bilinear, aspect ratio not kept; ' +
    'a warning is logged when the aspect ratios differ). An all-black mask is an error (nothing to repaint); an ' +
    'all-white mask is reported as a warning.',
  inputs: { image: { type: 'IMAGE', optional: true, description: 'Resize the mask to this image (its first image).' } },
  outputs: { mask: { type: 'MASK', description: 'Values in [0,1]; 1 = repaint.' } },
  params: Type.Object(
    {
      url: Type.String({ default: '', description: 'http(s) URL, data URI, upload:<id>, /v1/files/<id>, or a local path (CLI only).' }),
      invert: Type.Boolean({ default: false, description: 'Swap repaint and keep (for masks painted black = repaint).' }),
    },
    { additionalProperties: false },
  ),
  fingerprint: (params, ctx) => urlParamFingerprint(params.url, ctx),
  async execute(inputs, params, ctx) {
    let mask;
    try {
      mask = await loadMask(params.url, { config: ctx.services.config, files: ctx.files, signal: ctx.signal, runId: ctx.runId });
    } catch (err) {
      ctx.throwIfCancelled();
      throw withDetails(err, { param: 'url' });
    }
    if (params.invert) mask = invertMask(mask);
    const target = inputs.image?.[0];
    if (target && (target.width !== mask.width || target.height !== mask.height)) {
      const aspectDiff = Math.abs(mask.width / mask.height - target.width / target.height) / (target.width / target.height);
      ctx.log(aspectDiff > 0.01 ? 'warn' : 'info', `mask is ${mask.width}x${mask.height}; stretched to the image size ${target.width}x${target.height}`, {
        aspect_changed: aspectDiff > 0.01,
      });
      mask = resizeMask(mask, target.width, target.height);
    }
    const stats = maskStats(mask);
    if (stats.empty) {
      throw new NodeError(
        'mask_empty',
        `the mask is empty (all black${params.invert ? ' after invert' : ''}): nothing would be repainted; paint the area to repaint in white`,
        { param: 'url' },
      );
    }
    if (stats.full) ctx.log('warn', 'the mask is all white: the whole image will be repainted');
    else ctx.log('info', `mask covers ${(stats.mean * 100).toFixed(1)}% of the image`);
    return { mask };
  },
});
