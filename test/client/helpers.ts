// A catalogue from the real registry (toy nodes plus a few image-like nodes), as GET /v1/nodes serves it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeRegistry } from '../../server/engine/registry.js';
import { defineNode, Type } from '../../server/engine/index.js';
// Declares the IMAGE and MASK port value types (type-only).
import type {} from '../../server/image/types.js';
import type { Catalogue } from '../../client/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function toyCatalogue(): Promise<Catalogue> {
  const registry = new NodeRegistry();
  for (const f of ['add', 'constant', 'sink', 'slow', 'to-text']) {
    const mod = (await import(path.join(here, '../helpers/toy-nodes/toy', `${f}.ts`))) as { default: Parameters<NodeRegistry['register']>[0] };
    registry.register(mod.default);
  }
  registry.register(
    defineNode({
      type: 'image/load-image',
      title: 'Load image',
      description: 'Loads an image from a URL.',
      inputs: {},
      outputs: { image: { type: 'IMAGE' }, mask: { type: 'MASK' } },
      params: Type.Object({ url: Type.String({ default: '', description: 'Image URL' }) }, { additionalProperties: false }),
      async execute() {
        throw new Error('not run in these tests');
      },
    }) as never,
  );
  registry.register(
    defineNode({
      type: 'sampling/denoise',
      title: 'Denoise',
      description: 'Samples.',
      inputs: { image: { type: 'IMAGE' }, mask: { type: 'MASK', optional: true } },
      outputs: { image: { type: 'IMAGE' } },
      output: true,
      params: Type.Object(
        {
          steps: Type.Integer({ default: 25, minimum: 1, maximum: 150, description: 'Denoising steps' }),
          cfg: Type.Number({ default: 7.5, minimum: 0, maximum: 30, multipleOf: 0.5 }),
          strength: Type.Number({ default: 1, minimum: 0, maximum: 1 }),
          seed: Type.Integer({ default: 0, minimum: 0, maximum: 4294967295 }),
          scheduler: Type.Union([Type.Literal('euler'), Type.Literal('ddim')], { default: 'euler' }),
          prompt: Type.String({ default: '' }),
          tag: Type.String({ default: 'x' }),
          tiled: Type.Boolean({ default: false }),
          extra: Type.Array(Type.Number(), { default: [] }),
        },
        { additionalProperties: false },
      ),
      async execute() {
        throw new Error('not run in these tests');
      },
    }) as never,
  );
  return JSON.parse(JSON.stringify(registry.catalogue())) as Catalogue;
}
