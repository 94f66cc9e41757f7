// The websocket protocol (documented in docs/websocket.md): JSON text messages both ways,
// plus binary frames for step previews.
import { Type, type Static } from '@sinclair/typebox';

export const PROTOCOL_VERSION = 1;

export const CLIENT_MESSAGE_SCHEMAS = {
  run: Type.Object(
    {
      type: Type.Literal('run'),
      /** Client's reference, echoed on the reply so it can match requests to run ids. */
      ref: Type.Optional(Type.String({ maxLength: 200 })),
      /** A saved workflow's name, or an inline workflow document. */
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      workflow: Type.Optional(Type.Unknown()),
      inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
      /** Send step previews as binary frames (default true). */
      previews: Type.Optional(Type.Boolean()),
      /** Cancel the run when this connection closes (default false: work continues). */
      cancel_on_disconnect: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  cancel: Type.Object({ type: Type.Literal('cancel'), runId: Type.String({ minLength: 1 }), ref: Type.Optional(Type.String()) }, { additionalProperties: false }),
  subscribe: Type.Object(
    { type: Type.Literal('subscribe'), runId: Type.String({ minLength: 1 }), previews: Type.Optional(Type.Boolean()), ref: Type.Optional(Type.String()) },
    { additionalProperties: false },
  ),
  unsubscribe: Type.Object({ type: Type.Literal('unsubscribe'), runId: Type.String({ minLength: 1 }), ref: Type.Optional(Type.String()) }, { additionalProperties: false }),
  ping: Type.Object({ type: Type.Literal('ping'), ref: Type.Optional(Type.String()) }, { additionalProperties: false }),
};

export const ClientMessageSchema = Type.Union(Object.values(CLIENT_MESSAGE_SCHEMAS));

export type ClientMessage = Static<typeof ClientMessageSchema>;

/** Binary frame type ids (first 4 bytes, big-endian). */
export const FRAME_PREVIEW = 1;

export interface PreviewHeader {
  runId: string;
  nodeId: string;
  step: number;
  total: number;
  mime: string;
  width: number;
  height: number;
}

/**
 * Binary frame: u32 BE frame type | u32 BE header length N | N bytes of UTF-8 JSON header | payload.
 */
export function encodeFrame(type: number, header: object, payload: Uint8Array): Buffer {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(8 + head.length + payload.byteLength);
  out.writeUInt32BE(type, 0);
  out.writeUInt32BE(head.length, 4);
  head.copy(out, 8);
  out.set(payload, 8 + head.length);
  return out;
}

export function decodeFrame(buf: Uint8Array): { type: number; header: Record<string, unknown>; payload: Uint8Array } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8) throw new Error('frame too short');
  const type = b.readUInt32BE(0);
  const n = b.readUInt32BE(4);
  if (8 + n > b.length) throw new Error('frame header length exceeds frame');
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  return { type, header, payload: new Uint8Array(b.subarray(8 + n)) };
}
