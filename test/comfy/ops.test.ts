import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../helpers/graph-builder.js';
import { createHarness } from '../image/engine-helpers.js';
import { dataUri } from '../image/helpers.js';
import { featherEdges, maskFromChannel, maskToImage, padForOutpaint, pasteImage } from '../../server/image/comfy-ops.js';
import type { Mask, RgbImage } from '../../server/image/types.js';

const solid = (w: number, h: number, rgb: [number, number, number]): RgbImage => {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  return { width: w, height: h, data };
};
const ones = (w: number, h: number): Mask => ({ width: w, height: h, data: new Float32Array(w * h).fill(1) });

describe('ComfyUI mask and image operations', () => {
  it('FeatherMask ramps linearly in from the chosen borders only', () => {
    const m = featherEdges(ones(6, 3), { left: 3, top: 0, right: 0, bottom: 0 });
    expect([...m.data.subarray(0, 6)].map((v) => +v.toFixed(3))).toEqual([0.333, 0.667, 1, 1, 1, 1]);
    const tb = featherEdges(ones(2, 4), { left: 0, top: 2, right: 0, bottom: 1 });
    expect([...tb.data].filter((_, i) => i % 2 === 0)).toEqual([0.5, 1, 1, 1]);
  });

  it('ImagePadForOutpaint: grey border, mask 1 outside, quadratic ramp inside padded sides', () => {
    const { image, mask } = padForOutpaint(solid(10, 10, [200, 10, 10]), { left: 2, top: 0, right: 0, bottom: 0 }, 4);
    expect(image.width).toBe(12);
    expect([...image.data.subarray(0, 3)]).toEqual([128, 128, 128]);
    expect([...image.data.subarray(6, 9)]).toEqual([200, 10, 10]);
    const row = [...mask.data.subarray(0, 12)];
    expect(row.slice(0, 2)).toEqual([1, 1]);
    // d = column inside the image: (4 - d)/4 squared, then 0 from d = 4.
    expect(row.slice(2, 7)).toEqual([1, 0.5625, 0.25, 0.0625, 0]);
    expect(row[11]).toBe(0); // right side not padded: no ramp
  });

  it('ImageCompositeMasked pastes through the mask and clips at the border', async () => {
    const dst = solid(4, 4, [0, 0, 0]);
    const src = solid(3, 3, [100, 200, 250]);
    const half: Mask = { width: 3, height: 3, data: new Float32Array(9).fill(0.5) };
    const out = await pasteImage(dst, src, 2, 2, half, false);
    expect([...out.data.subarray((2 * 4 + 2) * 3, (2 * 4 + 2) * 3 + 3)]).toEqual([50, 100, 125]);
    expect([...out.data.subarray(0, 3)]).toEqual([0, 0, 0]);
    const full = await pasteImage(dst, src, 0, 0, undefined, true);
    expect([...full.data.subarray(45, 48)]).toEqual([100, 200, 250]);
  });

  it('ImageToMask / MaskToImage', () => {
    const m = maskFromChannel(solid(1, 1, [0, 51, 255]), 'green');
    expect(m.data[0]).toBeCloseTo(0.2);
    expect([...maskToImage({ width: 1, height: 1, data: new Float32Array([0.5]) }).data]).toEqual([128, 128, 128]);
  });
});

describe('the new nodes through the engine', () => {
  it('pad-for-outpaint -> grow -> feather-edges -> invert -> to-image / from-image -> paste run and save', async () => {
    const h = await createHarness();
    const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 200, g: 50, b: 10 } } }).png().toBuffer();
    const g = new GraphBuilder();
    const src = g.add('image/load-image', { url: dataUri(png) }, {}, 'src');
    const pad = g.add('image/pad-for-outpaint', { left: 8, right: 8, feathering: 4 }, { image: src.out('image') }, 'pad');
    const grow = g.add('mask/grow', { grow: 2 }, { mask: pad.out('mask') }, 'grow');
    const feather = g.add('mask/feather-edges', { left: 4 }, { mask: grow.out('mask') }, 'feather');
    const inv = g.add('mask/invert', {}, { mask: feather.out('mask') }, 'inv');
    const img = g.add('mask/to-image', {}, { mask: inv.out('mask') }, 'img');
    const back = g.add('mask/from-image', { channel: 'green' }, { image: img.out('image') }, 'back');
    const paste = g.add('image/paste', { x: 4, y: 4, resize_source: false }, { destination: pad.out('image'), source: img.out('image'), mask: back.out('mask') }, 'paste');
    g.add('image/save-image', {}, { image: paste.out('image') }, 'save');
    const { outputs } = await h.run(g.build());
    const [saved] = outputs.save!.images as Array<{ id: string; width: number; height: number }>;
    expect([saved!.width, saved!.height]).toEqual([48, 24]);
    const file = await h.files.read(saved!.id);
    const { data } = await sharp(Buffer.from(file!.data)).raw().toBuffer({ resolveWithObject: true });
    // Top-left stays the grey padding (the paste starts at 4,4).
    expect([...data.subarray(0, 3)]).toEqual([128, 128, 128]);
  });
});
