// release-memory.ts: after native code frees memory in the middle of glibc's heap (as
// onnxruntime does with a job's activations), RSS stays up until malloc_trim hands it back.
// Runs in a child process so the figures are its own and gc() is available.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { canReleaseFreedMemory, releaseFreedMemory } from '../../server/models/release-memory.js';

const glibc = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

const CHILD = `
import { readFileSync } from 'node:fs';
import { releaseFreedMemory } from ${JSON.stringify(path.resolve('server/models/release-memory.ts'))};
const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
// 3,000 × 64 KiB blocks (below glibc's mmap threshold: they live in the heap), each followed by a
// small block that stays, so freeing the big ones leaves holes the top-of-heap trim cannot return.
let big = [];
const keep = [];
for (let i = 0; i < 3000; i++) {
  big.push(Buffer.allocUnsafeSlow(64 * 1024).fill(1));
  keep.push(Buffer.allocUnsafeSlow(256).fill(1));
}
const full = rss();
big = [];
globalThis.gc(); globalThis.gc();
const freed = rss();
const released = releaseFreedMemory();
const trimmed = rss();
process.stdout.write(JSON.stringify({ full, freed, trimmed, released, kept: keep.length }) + '\\n');
`;

it.runIf(glibc && process.platform === 'linux')('hands freed heap memory back to the OS (glibc)', async () => {
  expect(canReleaseFreedMemory(), 'the maskflow-heap-trim addon is built (npm install compiles native/heap-trim)').toBe(true);
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHILD], { maxBuffer: 2 ** 20 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { full: number; freed: number; trimmed: number; released: boolean };
  // ~190 MB were allocated; freeing alone leaves most of it resident, trimming returns it.
  expect(r.full - r.freed, `freed without trim: ${JSON.stringify(r)}`).toBeLessThan(100);
  expect(r.released).toBe(true);
  expect(r.freed - r.trimmed, `returned by trim: ${JSON.stringify(r)}`).toBeGreaterThan(150);
});

it('is safe to call repeatedly and says whether it released anything', () => {
  expect(typeof releaseFreedMemory()).toBe('boolean');
  expect(typeof releaseFreedMemory()).toBe('boolean');
});
