// Model pull throughput on loopback: a 512 MiB safetensors-shaped file downloaded with
// downloadVerified (streamed to disk while hashing), a resume from half the bytes on disk (the
// re-hash of the partial file is the cost), and `verify` re-hashing. RSS before/after shows the
// download is streamed. Real pulls are bound by the network; these are the local costs.
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { downloadVerified, partPaths } from '../server/models/pull/download.js';
import { sha256OfFile } from '../server/storage/file-hash.js';

const MIB = 1024 * 1024;
const SIZE = 512 * MIB;

async function makeFile(file: string): Promise<void> {
  // u64 header length + JSON header (padded to 120 bytes) + one U8 tensor filling the rest: exactly SIZE bytes.
  const data = SIZE - 128;
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [data], data_offsets: [0, data] } }).padEnd(120, ' '));
  const fh = await open(file, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  await fh.write(Buffer.concat([len, header]));
  const chunk = Buffer.alloc(8 * MIB);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  for (let written = 128; written < SIZE; written += chunk.length) await fh.write(chunk.subarray(0, Math.min(chunk.length, SIZE - written)));
  await fh.close();
  if ((await stat(file)).size !== SIZE) throw new Error('bench file has the wrong size');
}

export default async function bench(print: (line: string) => void): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'maskflow-pull-bench-'));
  const src = path.join(dir, 'src.safetensors');
  await makeFile(src);
  const sha = await sha256OfFile(src);
  const server = http.createServer((req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, { 'content-length': String(SIZE - start), ...(m ? { 'content-range': `bytes ${start}-${SIZE - 1}/${SIZE}` } : {}) });
    createReadStream(src, { start, highWaterMark: MIB }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.safetensors`;
  const net = { allowlist: ['127.0.0.1'], maxBytes: 2 * SIZE, timeoutMs: 30_000, maxRedirects: 0, retries: 0, retryDelayMs: 0 };
  const spec = (dest: string) => ({ url, dest, label: 'bench', expectedSha256: sha, expectedSize: SIZE });
  try {
    const rss0 = process.memoryUsage().rss;
    let t0 = performance.now();
    await downloadVerified(spec(path.join(dir, 'a.safetensors')), net);
    let s = (performance.now() - t0) / 1000;
    print(`download 512 MiB over loopback, sha256 while streaming, verified + renamed: ${(SIZE / MIB / s).toFixed(0)} MiB/s (${s.toFixed(2)} s); RSS ${((process.memoryUsage().rss - rss0) / MIB).toFixed(0)} MiB above the start`);
    print(`  -> local ceiling for a 6.5 GiB SDXL checkpoint: ~${((6.5 * 1024) / (SIZE / MIB / s)).toFixed(0)} s (a 1 Gbit/s link delivers ~112 MiB/s)`);

    // Resume: half the file on disk as a .part with its sidecar, as an interrupted run leaves it.
    const dest = path.join(dir, 'b.safetensors');
    const { part, meta } = partPaths(dest);
    await writeFile(part, '');
    const fh = await open(part, 'w');
    const rs = createReadStream(src, { end: SIZE / 2 - 1, highWaterMark: MIB });
    for await (const c of rs) await fh.write(c as Buffer);
    await fh.close();
    await truncate(part, SIZE / 2);
    await writeFile(meta, JSON.stringify({ url, sha256: sha, size: SIZE }));
    t0 = performance.now();
    const r = await downloadVerified(spec(dest), net);
    s = (performance.now() - t0) / 1000;
    print(`resume from 256 MiB on disk (re-hash the partial bytes, fetch the rest with Range): ${s.toFixed(2)} s, resumedFrom ${r.resumedFrom / MIB} MiB, ${r.requests} request`);

    t0 = performance.now();
    await sha256OfFile(dest);
    s = (performance.now() - t0) / 1000;
    print(`verify (sha256 of an installed file): ${(SIZE / MIB / s).toFixed(0)} MiB/s`);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
