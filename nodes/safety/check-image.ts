import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { runSafetyCheck, safetyServiceOf, SafetyUnavailableError } from '../../server/safety/run-check.js';

export default defineNode({
  type: 'safety/check-image',
  title: 'Safety check',
  description:
    'Runs the configured safety model (MASKFLOW_SAFETY_MODEL: diffusers safety_checker or an NSFW image classifier) on each image. ' +
    'Flagged images are replaced by black or a heavy blur. Reports has_nsfw_concepts per image and safety_checked ' +
    '(false when disabled or, under policy "report", when no model is configured).',
  inputs: { image: { type: 'IMAGE', description: 'Images to check.' } },
  outputs: { image: { type: 'IMAGE', description: 'The images, flagged ones replaced.' } },
  output: true,
  params: Type.Object(
    {
      enabled: Type.Boolean({ default: true, description: 'Run the check (the API field enable_safety_checker).' }),
      action: Type.Unsafe<'config' | 'black' | 'blur'>({
        type: 'string',
        enum: ['config', 'black', 'blur'],
        default: 'config',
        description: 'What replaces a flagged image; "config" uses MASKFLOW_SAFETY_ACTION.',
      }),
    },
    { additionalProperties: false },
  ),
  // The verdict depends on the configured model, policy and action, which are not params.
  fingerprint(_params, ctx) {
    const s = safetyServiceOf(ctx.services);
    return `${ctx.services.config?.safetyModel ?? ''}|${s.policy}|${s.action}|${s.error ?? ''}`;
  },
  async execute(inputs, params, ctx) {
    if (!inputs.image.length) throw new NodeError('empty_image_batch', 'safety check got no images', { input: 'image' });
    try {
      const { images, report } = await runSafetyCheck(safetyServiceOf(ctx.services), inputs.image, {
        enabled: params.enabled,
        action: params.action,
        signal: ctx.signal,
      });
      if (params.enabled && report.safety_skipped) ctx.log('warn', 'safety check requested but no safety model is configured; images passed unchecked');
      const flagged = report.has_nsfw_concepts.filter(Boolean).length;
      if (flagged) ctx.log('info', `safety check flagged ${flagged} of ${images.length} images`, { action: report.safety_action });
      return { image: images, ui: { ...report } };
    } catch (err) {
      ctx.throwIfCancelled();
      if (err instanceof SafetyUnavailableError) throw new NodeError(err.code, err.message, { param: 'enabled' });
      throw new NodeError('safety_check_failed', `safety check failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  },
});
