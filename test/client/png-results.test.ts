import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { parseWorkflow, pngTextChunks, workflowFromPng } from '../../client/png.js';
import { imageUrls } from '../../client/results.js';

const wf = { version: 1, name: 'x', nodes: { a: { type: 'toy/constant', params: { value: 'é ✓' } } } };

/** Inserts a chunk right after IHDR (CRC is not checked by the reader). */
function withChunk(png: Buffer, type: string, data: Buffer): Buffer {
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  data.copy(chunk, 8);
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}

describe('workflows embedded in PNGs', () => {
  it('reads the workflow sharp writes as a text chunk (as save-image does)', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } })
      .png()
      .withMetadata({})
      .toBuffer();
    const text = withChunk(png, 'iTXt', Buffer.concat([Buffer.from('workflow\0\0\0\0\0', 'latin1'), Buffer.from(JSON.stringify(wf), 'utf8')]));
    expect(await workflowFromPng(new Uint8Array(text))).toEqual(wf);
  });

  it('reads tEXt and compressed zTXt / iTXt chunks', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#fff' } }).png().toBuffer();
    const ztxt = withChunk(png, 'zTXt', Buffer.concat([Buffer.from('comment\0\0', 'latin1'), deflateSync(Buffer.from('hello', 'latin1'))]));
    const both = withChunk(ztxt, 'iTXt', Buffer.concat([Buffer.from('workflow\0\x01\0en\0\0', 'latin1'), deflateSync(Buffer.from(JSON.stringify(wf)))]));
    const chunks = await pngTextChunks(new Uint8Array(both));
    expect(chunks.comment).toBe('hello');
    expect(await workflowFromPng(new Uint8Array(both))).toEqual(wf);
    const plain = withChunk(png, 'tEXt', Buffer.from(`prompt\0${JSON.stringify({ workflow: { version: 1, name: 'inner', nodes: {} } })}`, 'latin1'));
    expect((await workflowFromPng(new Uint8Array(plain)))?.name).toBe('inner');
    expect(await workflowFromPng(new Uint8Array(png))).toBeUndefined();
    expect(await workflowFromPng(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });

  it('accepts only workflow documents', () => {
    expect(parseWorkflow('{"version":1,"nodes":{}}')).toEqual({ version: 1, nodes: {} });
    expect(parseWorkflow('{"nodes":{}}')).toBeUndefined();
    expect(parseWorkflow('not json')).toBeUndefined();
  });
});

describe('images in node results', () => {
  it('finds file URLs, stored files and data URIs, once each', () => {
    const ui = {
      images: [
        { id: 'abc', url: 'http://h/v1/files/abc', contentType: 'image/png' },
        { id: 'def', filename: 'def.png', contentType: 'image/png', size: 3 },
      ],
      preview: 'data:image/png;base64,AAAA',
      again: 'http://h/v1/files/abc',
      text: 'hello',
      other: { id: 'x', contentType: 'application/json' },
    };
    expect(imageUrls(ui)).toEqual(['http://h/v1/files/abc', '/v1/files/def', 'data:image/png;base64,AAAA']);
    expect(imageUrls({ flagged: false })).toEqual([]);
  });
});
