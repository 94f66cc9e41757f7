// The flat request and response of POST /v1/inpaint (the hosted APIs' parameters), as
// TypeBox schemas: ajv validates requests with them and the OpenAPI document embeds them.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const IMAGE_SIZE_PRESETS = {
  square_hd: { width: 1024, height: 1024 },
  square: { width: 512, height: 512 },
  portrait_4_3: { width: 768, height: 1024 },
  portrait_16_9: { width: 576, height: 1024 },
  landscape_4_3: { width: 1024, height: 768 },
  landscape_16_9: { width: 1024, height: 576 },
} as const;

export type ImageSizePreset = keyof typeof IMAGE_SIZE_PRESETS;

const StringEnum = <T extends string>(values: readonly T[], opts: Record<string, unknown> = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...opts });

export interface InpaintLimits {
  maxSteps: number;
  maxSide: number;
  maxNumImages: number;
}

const SOURCE_DESCRIPTION = 'http(s) URL, data URI, or an upload URL (/v1/files/<id>, or upload:<id>)';

export function inpaintRequestSchema(limits: InpaintLimits) {
  const side = Type.Integer({ minimum: 64, maximum: limits.maxSide });
  return Type.Object(
    {
      prompt: Type.String({ minLength: 1, maxLength: 20000, description: 'What to paint into the masked area.' }),
      image_url: Type.String({ minLength: 1, description: `Input image: ${SOURCE_DESCRIPTION}.` }),
      mask_url: Type.String({ minLength: 1, description: `Mask (white = repaint): ${SOURCE_DESCRIPTION}.` }),
      negative_prompt: Type.Optional(Type.String({ maxLength: 20000, default: '', description: 'What to avoid.' })),
      strength: Type.Optional(Type.Number({ minimum: 0.01, maximum: 1, default: 0.95, description: 'How much the masked area changes (1 = fully repainted).' })),
      image_size: Type.Optional(
        Type.Union([StringEnum(Object.keys(IMAGE_SIZE_PRESETS) as ImageSizePreset[]), Type.Object({ width: side, height: side }, { additionalProperties: false })], {
          description: 'A preset or {width, height}. Default: the input image size, snapped to what the model accepts.',
        }),
      ),
      num_images: Type.Optional(Type.Integer({ minimum: 1, maximum: Math.min(8, limits.maxNumImages), default: 1 })),
      num_inference_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.maxSteps, default: 25 })),
      guidance_scale: Type.Optional(Type.Number({ minimum: 0, maximum: 30, default: 7.5 })),
      seed: Type.Optional(
        Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Random when absent; always returned. Image i of a request is reproducible from it.' }),
      ),
      loras: Type.Optional(
        Type.Array(
          Type.Object(
            {
              path: Type.String({ minLength: 1, description: `LoRA .safetensors: ${SOURCE_DESCRIPTION}.` }),
              scale: Type.Optional(Type.Number({ minimum: -4, maximum: 4, default: 1 })),
            },
            { additionalProperties: false },
          ),
          { maxItems: 8 },
        ),
      ),
      embeddings: Type.Optional(
        Type.Array(
          Type.Object(
            {
              path: Type.String({ minLength: 1, description: `Textual inversion .safetensors: ${SOURCE_DESCRIPTION}.` }),
              tokens: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 16, description: 'Trigger tokens (default: from the file).' })),
            },
            { additionalProperties: false },
          ),
          { maxItems: 8 },
        ),
      ),
      controlnets: Type.Optional(
        Type.Array(
          Type.Object(
            {
              path: Type.String({ minLength: 1, description: `SDXL ControlNet (diffusers format): folder or file name in models/controlnet, an upload or a URL.` }),
              control_image_url: Type.String({ minLength: 1, description: 'Control image (edges, depth, pose, …): URL, data URI or upload id; resized to the working size.' }),
              conditioning_scale: Type.Optional(Type.Number({ minimum: 0, maximum: 10, default: 1, description: 'controlnet_conditioning_scale.' })),
              start: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0, description: 'control_guidance_start: fraction of the steps run.' })),
              end: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'control_guidance_end: fraction of the steps run (start < end).' })),
              inpaint_control: Type.Optional(Type.Boolean({ default: false, description: 'Masked pixels of the control image become -1 (inpainting ControlNets).' })),
            },
            { additionalProperties: false },
          ),
          { maxItems: 4 },
        ),
      ),
      expand_prompt: Type.Optional(Type.Boolean({ default: false, description: 'Rewrite the prompt with the configured LLM first.' })),
      format: Type.Optional(StringEnum(['jpeg', 'png'] as const, { default: 'jpeg' })),
      enable_safety_checker: Type.Optional(Type.Boolean({ default: true })),
      sync_mode: Type.Optional(Type.Boolean({ default: false, description: 'Return images as data URIs instead of URLs.' })),
      // Names are looked up among the catalogue's entries, never joined into a path: any printable
      // name a file can have is accepted; '.'/'..' segments, backslashes and control characters are not.
      model: Type.Optional(Type.String({ pattern: '^(?!(?:.*/)?\\.\\.?(?:/|$))[^\\u0000-\\u001f\\u007f\\\\/]+(?:/[^\\u0000-\\u001f\\u007f\\\\/]+)*$', maxLength: 200, description: 'Checkpoint file name in models/checkpoints/ (e.g. "sd_xl_base_1.0_inpainting_0.1.safetensors"), or model folder name (default: MASKFLOW_DEFAULT_MODEL).' })),
      scheduler: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Sampler/scheduler name (see the catalogue).' })),
      priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100, default: 0, description: 'Queue priority; higher runs first.' })),
      webhook_url: Type.Optional(Type.String({ minLength: 1, description: 'Queue variant: POSTed the result on completion.' })),
    },
    { additionalProperties: false, $id: 'InpaintRequest', title: 'InpaintRequest' },
  );
}

export type InpaintRequest = Static<ReturnType<typeof inpaintRequestSchema>>;

export const OutputImageSchema = Type.Object(
  {
    url: Type.String({ description: 'URL served by this server under an unguessable id, or a data URI with sync_mode.' }),
    width: Type.Integer(),
    height: Type.Integer(),
    content_type: Type.String(),
  },
  { $id: 'OutputImage', title: 'OutputImage' },
);

export const InpaintResponseSchema = Type.Object(
  {
    images: Type.Array(Type.Ref('OutputImage')),
    seed: Type.Integer(),
    has_nsfw_concepts: Type.Array(Type.Boolean()),
    safety_checked: Type.Optional(Type.Array(Type.Boolean(), { description: 'Per image: whether a safety checker actually looked at it.' })),
    safety_skipped: Type.Optional(Type.String({ description: 'Why no check ran: disabled, not_configured, or not_in_workflow.' })),
    prompt: Type.String({ description: 'The prompt used (the expanded one when expand_prompt ran).' }),
    timings: Type.Object({
      queue_ms: Type.Number(),
      inference_ms: Type.Number(),
      nodes_ms: Type.Record(Type.String(), Type.Number()),
    }),
    request_id: Type.String(),
  },
  { $id: 'InpaintResponse', title: 'InpaintResponse' },
);

export const QueueAcceptedSchema = Type.Object(
  {
    request_id: Type.String(),
    status: Type.String(),
    status_url: Type.String(),
    response_url: Type.String(),
    cancel_url: Type.String(),
    queue_position: Type.Optional(Type.Integer()),
  },
  { $id: 'QueueAccepted', title: 'QueueAccepted' },
);

export const QueueStatusSchema = Type.Object(
  {
    request_id: Type.String(),
    status: StringEnum(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED'] as const),
    queue_position: Type.Optional(Type.Integer()),
    progress: Type.Optional(
      Type.Object({ node_id: Type.String(), step: Type.Integer(), total: Type.Integer(), nodes_done: Type.Integer(), nodes_total: Type.Integer() }),
    ),
    error: Type.Optional(Type.Ref('ErrorDetail')),
    response_url: Type.String(),
  },
  { $id: 'QueueStatus', title: 'QueueStatus' },
);

export const ErrorDetailSchema = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
    problems: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  },
  { $id: 'ErrorDetail', title: 'ErrorDetail' },
);

export const ErrorSchema = Type.Object({ error: Type.Ref('ErrorDetail') }, { $id: 'Error', title: 'Error' });

export const SCHEMAS: Record<string, (limits: InpaintLimits) => TSchema> = {
  InpaintRequest: inpaintRequestSchema,
  InpaintResponse: () => InpaintResponseSchema,
  OutputImage: () => OutputImageSchema,
  QueueAccepted: () => QueueAcceptedSchema,
  QueueStatus: () => QueueStatusSchema,
  ErrorDetail: () => ErrorDetailSchema,
  Error: () => ErrorSchema,
};
