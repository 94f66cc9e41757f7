// Reads the text chunks of a PNG (tEXt, iTXt, zTXt) to find a workflow saved into it by
// maskflow's save-image node. Pure apart from DecompressionStream for compressed chunks.
import type { Workflow } from './types.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(bytes: Uint8Array): boolean {
  return SIGNATURE.every((b, i) => bytes[i] === b);
}

export async function pngTextChunks(bytes: Uint8Array): Promise<Record<string, string>> {
  if (!isPng(bytes)) return {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, string> = {};
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder();
  let off = 8;
  while (off + 12 <= bytes.length) {
    const len = view.getUint32(off);
    const type = latin1.decode(bytes.subarray(off + 4, off + 8));
    const data = bytes.subarray(off + 8, off + 8 + len);
    off += 12 + len;
    if (type === 'IEND') break;
    const nul = data.indexOf(0);
    if (nul < 0) continue;
    const key = latin1.decode(data.subarray(0, nul));
    if (type === 'tEXt') out[key] = latin1.decode(data.subarray(nul + 1));
    else if (type === 'zTXt') out[key] = latin1.decode(await inflate(data.subarray(nul + 2)));
    else if (type === 'iTXt') {
      const compressed = data[nul + 1] === 1;
      let p = nul + 3;
      p = data.indexOf(0, p) + 1; // language tag
      p = data.indexOf(0, p) + 1; // translated keyword
      const text = data.subarray(p);
      out[key] = utf8.decode(compressed ? await inflate(text) : text);
    }
  }
  return out;
}

/** The workflow embedded in a PNG, if any (any text chunk holding a workflow document). */
export async function workflowFromPng(bytes: Uint8Array): Promise<Workflow | undefined> {
  const chunks = await pngTextChunks(bytes);
  const keys = Object.keys(chunks).sort((a, b) => rank(a) - rank(b));
  for (const k of keys) {
    const wf = parseWorkflow(chunks[k]!);
    if (wf) return wf;
  }
  return undefined;
}

export function parseWorkflow(text: string): Workflow | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (isWorkflow(v)) return v;
    const inner = (v as { workflow?: unknown } | null)?.workflow;
    return isWorkflow(inner) ? inner : undefined;
  } catch {
    return undefined;
  }
}

function isWorkflow(v: unknown): v is Workflow {
  return typeof v === 'object' && v !== null && (v as Workflow).version === 1 && typeof (v as Workflow).nodes === 'object';
}

function rank(key: string): number {
  return key === 'workflow' ? 0 : key.includes('workflow') ? 1 : 2;
}

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
