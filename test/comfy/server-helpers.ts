// Real servers with maskflow's nodes and the tiny fixture models, plus ComfyUI-side helpers.
import sharp from 'sharp';
import { REAL_NODES, startTestServer, TOY_NODES, type TestServer } from '../server/helpers.js';

/** The real nodes, plus the toy nodes (usable as class_type) for tests that stop a server mid-run: they run no ORT. */
export function startComfyServer(env: Record<string, string> = {}, dataDir?: string): Promise<TestServer> {
  return startTestServer(env, { nodeDirs: [REAL_NODES, TOY_NODES], ...(dataDir ? { dataDir } : {}) });
}

/** A prompt of maskflow's toy nodes: constant -> slow (progress per step, no inference) -> sink. */
export function toyPrompt(steps: number, ms: number, value = 1) {
  return {
    c: { class_type: 'toy/constant', inputs: { value } },
    s: { class_type: 'toy/slow', inputs: { value: ['c', 0], steps, ms } },
    out: { class_type: 'toy/sink', inputs: { value: ['s', 0] } },
  };
}

/** A 64x64 photo whose transparent centre square is the area to repaint (LoadImage: MASK = 1 - alpha). */
export async function photoWithHole(size = 64, hole = 24): Promise<Buffer> {
  const data = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      data[i] = (x * 4) & 255;
      data[i + 1] = (y * 4) & 255;
      data[i + 2] = 128;
      const inHole = Math.abs(x - size / 2) < hole / 2 && Math.abs(y - size / 2) < hole / 2;
      data[i + 3] = inHole ? 0 : 255;
    }
  }
  return sharp(data, { raw: { width: size, height: size, channels: 4 } }).png().toBuffer();
}

export async function uploadImage(server: { url: string }, bytes: Uint8Array, filename: string, fields: Record<string, string> = {}, path = '/upload/image', headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append('image', new Blob([bytes]), filename);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: form, headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}
