// Minimal protobuf wire-format reading and writing: just what ONNX model patching needs.
// Reading keeps byte ranges, so untouched messages can be copied verbatim.

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export interface Field {
  field: number;
  wire: number;
  /** Start of the tag (the field's first byte) and end of the field. */
  start: number;
  end: number;
  /** Varint value (WIRE_VARINT), or payload range for WIRE_LEN / fixed widths. */
  value: number;
  payloadStart: number;
  payloadEnd: number;
}

export class ProtoError extends Error {}

/**
 * Reads a varint at pos; returns [value, nextPos]. Values of 2^63 and above are int64 two's
 * complement (negative attributes such as axis = -1) and come back negative, exactly.
 */
export function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    if (pos >= buf.length) throw new ProtoError('truncated varint');
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return [result, pos];
    mul *= 128;
  }
  // Past 49 bits: finish in BigInt so the low bits of negative int64 values survive.
  let big = BigInt(result);
  let shift = 49n;
  for (let i = 7; i < 10; i++) {
    if (pos >= buf.length) throw new ProtoError('truncated varint');
    const b = buf[pos++]!;
    big |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [Number(BigInt.asIntN(64, big)), pos];
    shift += 7n;
  }
  throw new ProtoError('varint too long');
}

/** Iterates the fields of the message stored in buf[start, end). */
export function* fields(buf: Uint8Array, start = 0, end = buf.length): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    let value = 0;
    let payloadStart = pos;
    switch (wire) {
      case WIRE_VARINT:
        [value, pos] = readVarint(buf, pos);
        break;
      case WIRE_I64:
        pos += 8;
        break;
      case WIRE_I32:
        pos += 4;
        break;
      case WIRE_LEN: {
        const [len, p2] = readVarint(buf, pos);
        payloadStart = p2;
        pos = p2 + len;
        value = len;
        break;
      }
      default:
        throw new ProtoError(`unsupported wire type ${wire} at byte ${fieldStart}`);
    }
    if (pos > end) throw new ProtoError(`field ${field} overruns its message at byte ${fieldStart}`);
    yield { field, wire, start: fieldStart, end: pos, value, payloadStart, payloadEnd: pos };
  }
}

const utf8 = new TextDecoder();
export function str(buf: Uint8Array, f: Field): string {
  return utf8.decode(buf.subarray(f.payloadStart, f.payloadEnd));
}

/** Repeated int64 field: packed (LEN) or one varint per field. */
export function pushInts(buf: Uint8Array, f: Field, out: number[]): void {
  if (f.wire === WIRE_VARINT) {
    out.push(toSigned(f.value));
    return;
  }
  let p = f.payloadStart;
  while (p < f.payloadEnd) {
    const [v, n] = readVarint(buf, p);
    out.push(toSigned(v));
    p = n;
  }
}

/** int64 values are two's complement varints; negative ones come back as huge numbers. */
function toSigned(v: number): number {
  return v >= 2 ** 63 ? v - 2 ** 64 : v; // readVarint already returns these negative; kept for safety
}

// ---- writing ----

export function varint(v: number): Uint8Array {
  const out: number[] = [];
  if (v < 0) throw new ProtoError('negative varint');
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** An int64 as protobuf writes it: negative values as 10-byte two's complement varints. */
export function int64Varint(v: number): Uint8Array {
  if (v >= 0) return varint(v);
  let u = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return Uint8Array.from(out);
}

export function tag(field: number, wire: number): Uint8Array {
  return varint(field * 8 + wire);
}

/** A length-delimited field whose payload is given as chunks (copied later, once). */
export function lenField(field: number, payload: Uint8Array[]): Uint8Array[] {
  const len = payload.reduce((a, c) => a + c.byteLength, 0);
  return [tag(field, WIRE_LEN), varint(len), ...payload];
}

export function varintField(field: number, v: number): Uint8Array[] {
  return [tag(field, WIRE_VARINT), varint(v)];
}

export function stringField(field: number, s: string): Uint8Array[] {
  return lenField(field, [new TextEncoder().encode(s)]);
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((a, c) => a + c.byteLength, 0);
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.byteLength;
  }
  return out;
}
