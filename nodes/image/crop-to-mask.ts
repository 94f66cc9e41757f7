import { defineNode, NodeError, Type } from '../../server/engine/index.js';
import { cropRegionForMask, cropToBox } from '../../server/image/crop.js';
import { resizeMask } from '../../server/image/mask.js';

export default defineNode({
  type: 'image/crop-to-mask',
  title: 'Crop to mask',
  description:
    '"Only masked" inpainting (diffusers padding_mask_crop, A1111 "inpaint area: only masked"): takes the box around ' +
    'the mask plus padding, extends it to the width:height aspect ratio (shifting it inside the image), and scales ' +
    'image and mask to width x height, so a small area is repainted at the model\'s full resolution. image/uncrop ' +
    'puts the result back. width or height 0 keeps the box size.',
  inputs: {
    image: { type: 'IMAGE' },
    mask: { type: 'MASK', description: 'Resized to the image first when its size differs.' },
  },
  outputs: {
    image: { type: 'IMAGE', description: 'The crop at the working size.' },
    mask: { type: 'MASK', description: 'The mask cropped the same way.' },
    crop: { type: 'CROP', description: 'Where the crop came from, for image/uncrop.' },
  },
  params: Type.Object(
    {
      padding: Type.Integer({ default: 32, minimum: 0, maximum: 4096, description: 'Context in px kept around the mask.' }),
      width: Type.Integer({ default: 1024, minimum: 0, maximum: 8192, description: 'Working width (0 = the box width).' }),
      height: Type.Integer({ default: 1024, minimum: 0, maximum: 8192, description: 'Working height (0 = the box height).' }),
    },
    { additionalProperties: false },
  ),
  async execute(inputs, params) {
    if (inputs.image.length === 0) throw new NodeError('empty_image_batch', 'no image to crop', { input: 'image' });
    const first = inputs.image[0]!;
    const mask = resizeMask(inputs.mask, first.width, first.height);
    const useAspect = params.width > 0 && params.height > 0;
    const box = cropRegionForMask(mask, params.padding, useAspect ? params.width : 0, useAspect ? params.height : 0);
    if (!box) throw new NodeError('mask_empty', 'the mask is empty: there is nothing to crop to', { input: 'mask' });
    const images = [];
    let croppedMask;
    let crop;
    for (const img of inputs.image) {
      if (img.width !== first.width || img.height !== first.height) throw new NodeError('image_size_mismatch', 'images in the batch differ in size', { input: 'image' });
      const r = await cropToBox(img, mask, box, params.width, params.height);
      images.push(r.image);
      croppedMask = r.mask;
      crop = r.crop;
    }
    return { image: images, mask: croppedMask!, crop: crop! };
  },
});
