import { describe, expect, it } from 'vitest';
import { fillMasked } from '../../server/image/fill.js';
import type { RgbImage } from '../../server/image/types.js';
import { meanAbsError, naturalTexture, rectMask, firstDiff } from './helpers.js';

/** Fills the hole with the mean colour of the ring around it: the "flat fill" baseline. */
function flatFill(img: RgbImage, hole: (i: number) => boolean): RgbImage {
  const sum = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    if (hole(i)) continue;
    for (let c = 0; c < 3; c++) sum[c]! += img.data[i * 3 + c]!;
    n++;
  }
  const out = img.data.slice();
  for (let i = 0; i < img.width * img.height; i++) if (hole(i)) for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(sum[c]! / n);
  return { ...img, data: out };
}

/** Periodic texture (stripes and checks): what exemplar-based fills are for. */
function periodicTexture(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const stripe = (x + y) % 12 < 6 ? 1 : 0;
      data[i] = 60 + 150 * stripe;
      data[i + 1] = 90 + 80 * ((Math.floor(x / 8) + Math.floor(y / 8)) % 2);
      data[i + 2] = 128;
    }
  }
  return { width: w, height: h, data };
}

describe('fill-masked', () => {
  const img = naturalTexture(160, 128, 3);
  const mask = rectMask(160, 128, 60, 44, 36, 36);
  const hole = (i: number) => mask.data[i]! > 0;

  it.each(['telea', 'blur', 'patchmatch'] as const)('%s beats a flat fill inside the hole and keeps the rest', async (method) => {
    const out = await fillMasked(img, mask, method, { seed: 1 });
    let changedOutside = 0;
    for (let i = 0; i < 160 * 128 * 3; i++) if (!hole(Math.floor(i / 3)) && out.data[i] !== img.data[i]) changedOutside++;
    expect(changedOutside).toBe(0);
    const flat = meanAbsError(flatFill(img, hole), img, hole);
    const err = meanAbsError(out, img, hole);
    expect(err).toBeLessThan(flat * (method === 'patchmatch' ? 0.8 : 0.5));
    // Not a flat colour: the fill varies inside the hole.
    const vals = new Set<number>();
    for (let i = 0; i < 160 * 128; i++) if (hole(i)) vals.add(out.data[i * 3]!);
    expect(vals.size).toBeGreaterThan(10);
  });

  it('patchmatch reproduces a periodic texture better than a diffusion fill', async () => {
    const tex = periodicTexture(128, 128);
    const m = rectMask(128, 128, 48, 48, 24, 24);
    const h = (i: number) => m.data[i]! > 0;
    const pm = meanAbsError(await fillMasked(tex, m, 'patchmatch', { seed: 3 }), tex, h);
    const telea = meanAbsError(await fillMasked(tex, m, 'telea'), tex, h);
    expect(pm).toBeLessThan(telea * 0.6);
  });

  it('patchmatch reports progress at checkpoints and stops when one throws', async () => {
    const seen: number[] = [];
    await fillMasked(img, mask, 'patchmatch', { checkpoint: (done, total) => void seen.push(done / total) });
    expect(seen.length).toBeGreaterThan(2);
    expect(seen[seen.length - 1]).toBe(1);
    let calls = 0;
    const stop = fillMasked(img, mask, 'patchmatch', {
      checkpoint: () => {
        if (++calls === 2) throw new Error('cancelled');
      },
    });
    await expect(stop).rejects.toThrow('cancelled');
    expect(calls).toBe(2);
  });

  it('a mask covering everything gives mid grey, and tiny images work', async () => {
    const tiny = { width: 3, height: 2, data: new Uint8Array(18).fill(100) };
    for (const method of ['blur', 'telea', 'patchmatch'] as const) {
      expect([...(await fillMasked(tiny, rectMask(3, 2, 0, 0, 3, 2), method)).data]).toEqual(new Array(18).fill(128));
      expect([...(await fillMasked(tiny, rectMask(3, 2, 0, 0, 1, 1), method)).data]).toEqual(new Array(18).fill(100));
    }
  });

  it('noise is seeded and original keeps the image', async () => {
    const a = await fillMasked(img, mask, 'noise', { seed: 5 });
    const b = await fillMasked(img, mask, 'noise', { seed: 5 });
    const c = await fillMasked(img, mask, 'noise', { seed: 6 });
    expect(firstDiff(a.data, b.data)).toBe(-1);
    expect(firstDiff(a.data, c.data)).not.toBe(-1);
    expect(firstDiff((await fillMasked(img, mask, 'original')).data, img.data)).toBe(-1);
  });
});
