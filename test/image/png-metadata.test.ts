import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeImage } from '../../server/image/io.js';
import { insertPngText, readPngText, readWorkflowFromPng } from '../../server/image/png-metadata.js';
import { naturalTexture, firstDiff } from './helpers.js';

describe('PNG workflow metadata', () => {
  const workflow = { version: 1, name: 'x', nodes: { a: { type: 'image/load-image', params: { url: 'data:image/png;base64,AAAA' } } } };

  it('round-trips ASCII (tEXt) and non-ASCII (iTXt) workflows, image still valid', async () => {
    for (const wf of [workflow, { ...workflow, description: 'ünïcødé ✓ 画像' }]) {
      const png = await encodeImage(naturalTexture(16, 16), { format: 'png', pngText: { workflow: JSON.stringify(wf) } });
      expect(readWorkflowFromPng(png)).toEqual(wf);
      const meta = await sharp(png).metadata();
      expect(meta.width).toBe(16);
      const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect(firstDiff(new Uint8Array(data), naturalTexture(16, 16).data)).toBe(-1);
    }
  });

  it('reads zTXt chunks written by other tools and ignores PNGs without a workflow', async () => {
    const plain = await encodeImage(naturalTexture(8, 8), { format: 'png' });
    expect(readWorkflowFromPng(plain)).toBeUndefined();
    expect(readWorkflowFromPng(new Uint8Array([1, 2, 3]))).toBeUndefined();
    const withText = insertPngText(plain, 'prompt', '{"a":1}');
    expect(readPngText(withText)).toEqual({ prompt: '{"a":1}' });
    // sharp writes other text chunks (e.g. via withMetadata comments) that must not break reading.
    const sharpPng = await sharp(naturalTexture(8, 8).data, { raw: { width: 8, height: 8, channels: 3 } })
      .png()
      .withMetadata()
      .toBuffer();
    const both = insertPngText(new Uint8Array(sharpPng), 'workflow', JSON.stringify(workflow));
    expect(readWorkflowFromPng(both)).toEqual(workflow);
  });
});
