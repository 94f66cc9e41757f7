// data: URIs (RFC 2397), base64 or percent-encoded, with the size limit checked
// before the payload is decoded.
import { NodeError } from '../engine/errors.js';

export interface DataUri {
  bytes: Uint8Array;
  contentType: string;
}

export function isDataUri(text: string): boolean {
  return /^data:/i.test(text.trimStart());
}

export function parseDataUri(text: string, maxBytes: number): DataUri {
  const uri = text.trim();
  const comma = uri.indexOf(',');
  if (!/^data:/i.test(uri) || comma < 0) throw new NodeError('data_uri_invalid', 'data URI is malformed: expected data:[<type>][;base64],<data>');
  const header = uri.slice(5, comma);
  const payload = uri.slice(comma + 1);
  const parts = header.split(';').map((p) => p.trim());
  const base64 = parts.length > 1 && parts[parts.length - 1]!.toLowerCase() === 'base64';
  const contentType = (parts[0] || 'text/plain').toLowerCase();

  if (base64) {
    const clean = payload.replace(/[\s]|%0[aAdD]|%20/g, '');
    const estimate = Math.floor((clean.length * 3) / 4);
    if (estimate > maxBytes + 2) {
      throw new NodeError('url_too_large', `data URI holds about ${estimate} bytes; the limit is ${maxBytes}`, { limit: maxBytes });
    }
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) throw new NodeError('data_uri_invalid', 'data URI has invalid base64 data');
    const bytes = new Uint8Array(Buffer.from(clean, clean.includes('-') || clean.includes('_') ? 'base64url' : 'base64'));
    if (bytes.byteLength > maxBytes) {
      throw new NodeError('url_too_large', `data URI holds ${bytes.byteLength} bytes; the limit is ${maxBytes}`, { limit: maxBytes });
    }
    return { bytes, contentType };
  }

  // Percent-encoded: every %XX is one byte, every other character its UTF-8 bytes.
  if (payload.length > maxBytes * 3) {
    throw new NodeError('url_too_large', `data URI is larger than the limit of ${maxBytes} bytes`, { limit: maxBytes });
  }
  let bytes: Uint8Array;
  try {
    bytes = percentDecode(payload);
  } catch {
    throw new NodeError('data_uri_invalid', 'data URI has invalid percent-encoding');
  }
  if (bytes.byteLength > maxBytes) {
    throw new NodeError('url_too_large', `data URI holds ${bytes.byteLength} bytes; the limit is ${maxBytes}`, { limit: maxBytes });
  }
  return { bytes, contentType };
}

function percentDecode(text: string): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error('bad escape');
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = text.codePointAt(i)!;
      if (code < 0x80) out.push(code);
      else {
        const ch = String.fromCodePoint(code);
        out.push(...enc.encode(ch));
        i += ch.length - 1;
      }
    }
  }
  return new Uint8Array(out);
}

/** Encodes bytes as a base64 data URI. */
export function toDataUri(bytes: Uint8Array, contentType: string): string {
  return `data:${contentType};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
}
