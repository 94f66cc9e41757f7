// Service figures: job round trip through HTTP + queue + worker (toy workflow), /health
// latency while the worker is blocked, and a synchronous /v1/inpaint on the tiny model.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/main.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export default async function bench(print: (line: string) => void): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'maskflow-bench-'));
  const config = loadConfig(
    { MASKFLOW_PORT: '0', MASKFLOW_DATA_DIR: dataDir, MASKFLOW_MODELS_DIR: path.join(REPO, 'test/fixtures/models'), MASKFLOW_LOG_LEVEL: 'silent', MASKFLOW_DEFAULT_MODEL: 'tiny-sdxl-inpaint' },
    REPO,
  );
  const t0 = performance.now();
  const server = await startServer(config, { nodeDirs: [path.join(REPO, 'nodes'), path.join(REPO, 'test/helpers/toy-nodes')] });
  print(`server start (registry + worker ready): ${(performance.now() - t0).toFixed(0)} ms`);
  const post = (p: string, body: unknown) => fetch(`${server.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
  try {
    const toy = { version: 1, nodes: { c: { type: 'toy/constant' }, out: { type: 'toy/sink', inputs: { value: ['c', 'value'] } } } };
    await post('/v1/runs?wait=1', { workflow: toy });
    const rt: number[] = [];
    for (let i = 0; i < 50; i++) rt.push(await timed(() => post('/v1/runs?wait=1', { workflow: toy })));
    print(`job round trip (validate, SQLite write, queue, worker, result), toy workflow: p50 ${pct(rt, 50).toFixed(1)} ms, p95 ${pct(rt, 95).toFixed(1)} ms`);

    const block = { version: 1, nodes: { c: { type: 'toy/constant' }, b: { type: 'toy/block', params: { ms: 3000 }, inputs: { value: ['c', 'value'] } }, out: { type: 'toy/sink', inputs: { value: ['b', 'value'] } } } };
    await post('/v1/runs', { workflow: block });
    await new Promise((r) => setTimeout(r, 200));
    const health: number[] = [];
    for (let i = 0; i < 40; i++) health.push(await timed(() => fetch(`${server.url}/health`).then((r) => r.json())));
    print(`/health while the worker thread is blocked: p50 ${pct(health, 50).toFixed(1)} ms, p95 ${pct(health, 95).toFixed(1)} ms, max ${Math.max(...health).toFixed(1)} ms (target < 50)`);

    const size = 128;
    const raw = Buffer.alloc(size * size * 3, 128);
    const mask = Buffer.alloc(size * size);
    for (let y = 32; y < 96; y++) mask.fill(255, y * size + 32, y * size + 96);
    const uri = async (b: Buffer, ch: 1 | 3) => `data:image/png;base64,${(await sharp(b, { raw: { width: size, height: size, channels: ch } }).png().toBuffer()).toString('base64')}`;
    const body = { prompt: 'a red apple', image_url: await uri(raw, 3), mask_url: await uri(mask, 1), num_inference_steps: 8, seed: 1, format: 'png' };
    await new Promise((r) => setTimeout(r, 3000));
    const first = await timed(() => post('/v1/inpaint', body));
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) warm.push(await timed(() => post('/v1/inpaint', { ...body, seed: i + 2 })));
    print(`POST /v1/inpaint, tiny model, 128x128, 8 steps: first ${first.toFixed(0)} ms (session loads), warm p50 ${pct(warm, 50).toFixed(0)} ms`);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
