// PNG text chunks: saved images carry their workflow (keyword "workflow", as ComfyUI
// does), so a PNG dropped on the editor or posted to the server loads back as a workflow.
// ASCII text is written as tEXt; anything else as uncompressed iTXt (UTF-8).
import { crc32, inflateSync } from 'node:zlib';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

interface Chunk {
  type: string;
  start: number; // offset of the length field
  dataStart: number;
  length: number;
}

function* chunks(bytes: Uint8Array): Generator<Chunk> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8;
  while (off + 12 <= bytes.length) {
    const length = view.getUint32(off);
    const type = String.fromCharCode(bytes[off + 4]!, bytes[off + 5]!, bytes[off + 6]!, bytes[off + 7]!);
    if (off + 12 + length > bytes.length) return;
    yield { type, start: off, dataStart: off + 8, length };
    if (type === 'IEND') return;
    off += 12 + length;
  }
}

function makeChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Returns a copy of the PNG with a text chunk inserted right after IHDR. */
export function insertPngText(png: Uint8Array, keyword: string, text: string): Uint8Array {
  if (!isPng(png)) throw new Error('not a PNG');
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new Error(`invalid PNG text keyword "${keyword}"`);
  const ascii = /^[\x00-\x7f]*$/.test(text);
  let data: Uint8Array;
  if (ascii) {
    const body = latin1(text);
    data = new Uint8Array(keyword.length + 1 + body.length);
    data.set(latin1(keyword));
    data.set(body, keyword.length + 1);
  } else {
    // iTXt: keyword 0 compression-flag compression-method language 0 translated-keyword 0 text
    const utf8 = new TextEncoder().encode(text);
    const head = new Uint8Array([...latin1(keyword), 0, 0, 0, 0, 0]);
    data = new Uint8Array(head.length + utf8.length);
    data.set(head);
    data.set(utf8, head.length);
  }
  const first = chunks(png).next().value;
  if (!first || first.type !== 'IHDR') throw new Error('PNG does not start with IHDR');
  const cut = first.start + 12 + first.length;
  const chunk = makeChunk(ascii ? 'tEXt' : 'iTXt', data);
  const out = new Uint8Array(png.length + chunk.length);
  out.set(png.subarray(0, cut));
  out.set(chunk, cut);
  out.set(png.subarray(cut), cut + chunk.length);
  return out;
}

/** Every tEXt, zTXt and iTXt chunk of a PNG (keyword -> text; first occurrence wins). */
export function readPngText(png: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isPng(png)) return out;
  const decoder = new TextDecoder('utf-8');
  const latin = new TextDecoder('latin1');
  for (const c of chunks(png)) {
    if (c.type !== 'tEXt' && c.type !== 'zTXt' && c.type !== 'iTXt') continue;
    const data = png.subarray(c.dataStart, c.dataStart + c.length);
    const nul = data.indexOf(0);
    if (nul <= 0) continue;
    const keyword = latin.decode(data.subarray(0, nul));
    if (keyword in out) continue;
    try {
      if (c.type === 'tEXt') out[keyword] = latin.decode(data.subarray(nul + 1));
      else if (c.type === 'zTXt') out[keyword] = latin.decode(inflateSync(data.subarray(nul + 2)));
      else {
        const compressed = data[nul + 1] === 1;
        let p = nul + 3;
        p = data.indexOf(0, p) + 1; // language tag
        p = data.indexOf(0, p) + 1; // translated keyword
        if (p <= 0) continue;
        const body = data.subarray(p);
        out[keyword] = decoder.decode(compressed ? inflateSync(body) : body);
      }
    } catch {
      // A damaged text chunk does not make the image unreadable.
    }
  }
  return out;
}

/** The workflow a saved PNG carries (keyword "workflow"), or undefined when it has none. */
export function readWorkflowFromPng(png: Uint8Array): unknown | undefined {
  const text = readPngText(png).workflow;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The workflow as a saved PNG should carry it: inline data URIs in params (an API request's
 * image and mask, possibly megabytes) are replaced by "" so the image stays small; the
 * graph, every other param and the layout are kept.
 */
export function workflowForEmbedding(workflow: unknown): unknown {
  const strip = (v: unknown): unknown => {
    if (typeof v === 'string') return v.startsWith('data:') ? '' : v;
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  return strip(workflow);
}
