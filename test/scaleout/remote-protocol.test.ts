// The JSON codec for run events between workers and the API node: preview bytes survive.
import { describe, expect, it } from 'vitest';
import { decodeWire, encodeWire } from '../../server/queue/remote-protocol.js';

describe('remote event codec', () => {
  it('round-trips Uint8Array and Buffer values as base64', () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]);
    const event = { runId: 'r', event: { type: 'node:progress', runId: 'r', nodeId: 's', done: 1, total: 2, preview: { mime: 'image/jpeg', data: jpeg, width: 2, height: 1 } } };
    const text = encodeWire(event);
    expect(text).toContain('"$bytes"');
    const back = decodeWire<typeof event>(text);
    expect(back.event.preview.data).toBeInstanceOf(Uint8Array);
    expect([...back.event.preview.data]).toEqual([...jpeg]);
    expect({ ...back, event: { ...back.event, preview: { ...back.event.preview, data: null } } }).toEqual({ ...event, event: { ...event.event, preview: { ...event.event.preview, data: null } } });
    const sub = decodeWire<{ b: Uint8Array }>(encodeWire({ b: Buffer.from([9, 8]).subarray(1) }));
    expect([...sub.b]).toEqual([8]);
  });

  it('leaves ordinary objects alone', () => {
    const v = { a: [1, { b: 'c' }], $bytes: 'not alone', n: null };
    expect(decodeWire(encodeWire(v))).toEqual(v);
  });
});
