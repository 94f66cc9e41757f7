import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { squaredDistanceTo, threshold } from '../../server/image/distance.js';
import { decodeImage } from '../../server/image/io.js';
import { readWorkflowFromPng } from '../../server/image/png-metadata.js';
import { createHarness } from './engine-helpers.js';
import { dataUri, encode, maskToPng, meanAbsError, naturalTexture } from './helpers.js';

const WORKFLOW = new URL('../../workflows/classical-fill.json', import.meta.url);

describe('workflows/classical-fill.json', () => {
  it('removes an object with no model; everything beyond grow + feather stays identical', async () => {
    const workflow = JSON.parse(await readFile(WORKFLOW, 'utf8'));
    const W = 128;
    const H = 96;
    const background = naturalTexture(W, H, 5);
    // A red disc "object" on the background, and a mask that covers it.
    const photo = { ...background, data: background.data.slice() };
    const mask = { width: W, height: H, data: new Float32Array(W * H) };
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const d = Math.hypot(x - 60, y - 45);
        if (d <= 12) photo.data.set([230, 20, 30], (y * W + x) * 3);
        if (d <= 13) mask.data[y * W + x] = 1;
      }
    }
    const h = await createHarness();
    const { outputs } = await h.run(workflow, {
      image: dataUri(await encode(photo, 'png')),
      mask: dataUri(await maskToPng(mask)),
      grow: 3,
      feather: 4,
    });
    const images = outputs.save!.images as { id: string; width: number; height: number }[];
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({ width: W, height: H });
    const bytes = (await h.files.read(images[0]!.id))!.data;
    const out = (await decodeImage(bytes, { maxPixels: 1e8 })).image;

    const d2 = squaredDistanceTo(W, H, threshold(mask.data, 0, true));
    let far = 0;
    let changedFar = 0;
    for (let i = 0; i < W * H; i++) {
      if (d2[i]! > 7 * 7) {
        far++;
        for (let c = 0; c < 3; c++) if (out.data[i * 3 + c] !== photo.data[i * 3 + c]) changedFar++;
      }
    }
    expect(changedFar).toBe(0);
    expect(far).toBeGreaterThan(W * H * 0.8);
    // The red object is gone: inside the hole the result is close to the true background.
    const inHole = (i: number) => mask.data[i]! > 0;
    expect(meanAbsError(out, background, inHole)).toBeLessThan(12);
    expect(meanAbsError(photo, background, inHole)).toBeGreaterThan(60);

    // The saved PNG loads back as the workflow that made it (public inputs applied).
    const embedded = readWorkflowFromPng(bytes) as { name: string; nodes: Record<string, { params: Record<string, unknown> }> };
    expect(embedded.name).toBe('classical-fill');
    expect(embedded.nodes.prepare!.params).toMatchObject({ grow: 3, feather: 4 });
  });

  it('is a valid workflow whose public inputs are image, mask, grow and feather', async () => {
    const workflow = JSON.parse(await readFile(WORKFLOW, 'utf8'));
    expect(Object.keys(workflow.inputs)).toEqual(expect.arrayContaining(['image', 'mask', 'grow', 'feather']));
    const h = await createHarness();
    await expect(h.run(workflow, { image: '', mask: '' })).rejects.toMatchObject({ code: 'source_missing', nodeId: 'load_image' });
  });
});
