import { describe, expect, it } from 'vitest';
import { decodePreview } from '../../client/socket.js';
import { encodeFrame, FRAME_PREVIEW } from '../../server/ws/protocol.js';

describe('websocket preview frames', () => {
  it('decodes the frames the server encodes', async () => {
    const header = { runId: 'r1', nodeId: 'sampler', step: 2, total: 5, mime: 'image/jpeg', width: 8, height: 8 };
    const frame = encodeFrame(FRAME_PREVIEW, header, new Uint8Array([1, 2, 3]));
    const buf = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer;
    const got = decodePreview(buf)!;
    expect(got.runId).toBe('r1');
    expect(got.nodeId).toBe('sampler');
    expect(got.blob.type).toBe('image/jpeg');
    expect([...new Uint8Array(await got.blob.arrayBuffer())]).toEqual([1, 2, 3]);
  });

  it('ignores other frames', () => {
    const other = encodeFrame(7, {}, new Uint8Array([1]));
    expect(decodePreview(other.buffer.slice(other.byteOffset, other.byteOffset + other.byteLength) as ArrayBuffer)).toBeUndefined();
    expect(decodePreview(new ArrayBuffer(3))).toBeUndefined();
  });
});
