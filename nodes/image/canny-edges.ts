import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { cannyEdges } from '../../server/image/canny.js';
import type { ImageBatch } from '../../server/image/types.js';

export default defineNode({
  type: 'image/canny-edges',
  title: 'Canny edges',
  description:
    'Makes a ControlNet control image: white Canny edges on black, as OpenCV\'s cv2.Canny(image, low, high) (L1 gradient, ' +
    '3×3 Sobel). Edges from the input photo keep its structure when the masked region is repainted.',
  inputs: { image: { type: 'IMAGE' } },
  outputs: { image: { type: 'IMAGE', description: 'Edge map, RGB (edges 255 in all channels).' } },
  params: Type.Object(
    {
      low_threshold: Type.Number({ default: 100, minimum: 0, maximum: 2000, description: 'Weak edges above this are kept when connected to strong ones.' }),
      high_threshold: Type.Number({ default: 200, minimum: 0, maximum: 2000, description: 'Gradient (|dx|+|dy|) above this starts an edge.' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params) {
    if (params.low_threshold > params.high_threshold)
      throw new NodeError('invalid_param', `low_threshold ${params.low_threshold} is above high_threshold ${params.high_threshold}`, { param: 'low_threshold' });
    const image: ImageBatch = inputs.image.map((im) => {
      const edges = cannyEdges(im, params.low_threshold, params.high_threshold);
      const data = new Uint8Array(edges.length * 3);
      for (let p = 0; p < edges.length; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = edges[p]!;
      return { width: im.width, height: im.height, data };
    });
    return { image };
  },
});
