// One file downloaded so that a model is never half-written: bytes go to a hidden `.part` file
// in the destination's folder (same filesystem, so the final rename is atomic), are hashed as
// they arrive, and the file is renamed into place only after its size and sha256 match. A
// dropped connection resumes with a Range request from the bytes already on disk, in this process
// or in the next one (a `.part.json` sidecar records what the bytes belong to).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { NodeError } from '../../engine/errors.js';
import { safeFetch, type Resolver } from '../../image/fetch.js';

export interface DownloadSpec {
  url: string;
  /** Final path; the download becomes visible there only once verified. */
  dest: string;
  /** Name used in messages (the repo path or the URL's file name). */
  label: string;
  expectedSha256?: string;
  /** Git blob sha1 of a small non-LFS Hub file. */
  expectedGitSha1?: string;
  expectedSize?: number;
  headers?: Record<string, string>;
  /** Checks the first bytes before the rest is fetched (e.g. "is this safetensors?"). */
  checkPrefix?: (prefix: Buffer) => void;
  /** How many leading bytes checkPrefix needs. */
  prefixBytes?: number;
  /** Sees every response's headers (redirects too) and throws to stop (Hub metadata checks). */
  checkHeaders?: (status: number, headers: IncomingHttpHeaders) => void;
}

export interface DownloadNet {
  allowlist: readonly string[];
  maxBytes: number;
  /** Wait for the first byte, then the longest silence between chunks. */
  timeoutMs: number;
  maxRedirects: number;
  resolve?: Resolver;
  /** Attempts after a dropped connection or a 5xx (each resumes with Range). */
  retries: number;
  retryDelayMs: number;
  /** Free bytes of the filesystem holding `dir` (tests simulate a full disk). */
  freeBytes?: (dir: string) => Promise<number>;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Bytes that were already on disk from an earlier, interrupted run. */
  resumedFrom: number;
  /** Requests made (1 = no interruption). */
  requests: number;
  /** Headers of every response, redirects first (Hub metadata, Content-Disposition). */
  responses: Array<{ status: number; url: string; headers: IncomingHttpHeaders }>;
}

/** Margin kept free on the disk besides the download itself. */
const DISK_MARGIN = 64 * 1024 * 1024;

export async function freeBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** Refuses to start when the disk cannot hold `needed` more bytes. */
export async function assertFreeSpace(dir: string, needed: number, freeBytes: (dir: string) => Promise<number> = freeBytesOf): Promise<void> {
  const free = await freeBytes(dir);
  if (needed + DISK_MARGIN > free)
    throw new NodeError('pull_disk_full', `not enough disk space in ${dir}: the download needs ${formatBytes(needed)} and ${formatBytes(free)} is free`, {
      needed,
      free,
    });
}

export function partPaths(dest: string): { part: string; meta: string } {
  const part = path.join(path.dirname(dest), `.${path.basename(dest)}.part`);
  return { part, meta: `${part}.json` };
}

interface PartMeta {
  url: string;
  sha256?: string;
  gitSha1?: string;
  size?: number;
  etag?: string;
}

/** Hash state after the bytes already on disk; they are kept only if they belong to this download. */
async function resumeState(spec: DownloadSpec, part: string, meta: string): Promise<{ offset: number; hash: Hash; etag?: string }> {
  const fresh = { offset: 0, hash: createHash('sha256') };
  let m: PartMeta;
  let size: number;
  try {
    m = JSON.parse(await readFile(meta, 'utf8')) as PartMeta;
    size = (await stat(part)).size;
  } catch {
    await rm(part, { force: true });
    return fresh;
  }
  // Same content expected (same hash, or same URL with no hash known) and no more bytes than the file has.
  const same = spec.expectedSha256 ? m.sha256 === spec.expectedSha256 : m.url === spec.url && m.gitSha1 === spec.expectedGitSha1;
  const fits = spec.expectedSize === undefined || size <= spec.expectedSize;
  if (!same || !fits || spec.expectedGitSha1 !== undefined) {
    // Small non-LFS files are re-fetched whole: their git hash cannot be continued.
    await rm(part, { force: true });
    return fresh;
  }
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(part, { highWaterMark: 1 << 20 })
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve());
  });
  return { offset: size, hash, ...(m.etag ? { etag: m.etag } : {}) };
}

function retryable(err: unknown): boolean {
  if (!(err instanceof NodeError)) return false;
  if (err.code === 'url_fetch_failed' || err.code === 'url_timeout') return true;
  return err.code === 'url_http_error' && typeof err.details.status === 'number' && (err.details.status >= 500 || err.details.status === 429);
}

function gitBlobSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * Downloads `spec.url` to `spec.dest`, verified. `onBytes(done, total)` reports progress
 * (total undefined until known). Throws NodeError: pull_hash_mismatch (file deleted),
 * pull_size_mismatch, pull_disk_full, url_* from the fetcher.
 */
export async function downloadVerified(
  spec: DownloadSpec,
  net: DownloadNet,
  opts: { signal?: AbortSignal; onBytes?: (done: number, total: number | undefined) => void } = {},
): Promise<DownloadResult> {
  const dir = path.dirname(spec.dest);
  await mkdir(dir, { recursive: true });
  const { part, meta } = partPaths(spec.dest);
  let { offset, hash, etag } = await resumeState(spec, part, meta);
  const resumedFrom = offset;
  const responses: DownloadResult['responses'] = [];
  let total = spec.expectedSize;
  if (total !== undefined) {
    if (total > net.maxBytes)
      throw new NodeError('pull_too_large', `${spec.label} is ${formatBytes(total)}; the limit is ${formatBytes(net.maxBytes)} (MASKFLOW_MAX_PULL_FILE_MB)`, { limit: net.maxBytes });
    await assertFreeSpace(dir, total - offset, net.freeBytes);
  }
  const writeMeta = () =>
    writeFile(meta, JSON.stringify({ url: spec.url, sha256: spec.expectedSha256, gitSha1: spec.expectedGitSha1, size: spec.expectedSize, etag } satisfies PartMeta));
  await writeMeta();
  opts.onBytes?.(offset, total);

  let requests = 0;
  let prefix: Buffer | undefined = spec.checkPrefix ? Buffer.alloc(0) : undefined;
  if (prefix && offset > 0) {
    // The prefix is on disk already: check it before asking for more.
    const fh = await open(part, 'r');
    const buf = Buffer.alloc(Math.min(offset, spec.prefixBytes ?? 16));
    await fh.read(buf, 0, buf.length, 0);
    await fh.close();
    prefix = buf;
    if (prefix.length >= (spec.prefixBytes ?? 16)) {
      spec.checkPrefix!(prefix);
      prefix = undefined;
    }
  }
  const small = spec.expectedGitSha1 !== undefined ? ([] as Buffer[]) : undefined;

  for (let attempt = 0; ; attempt++) {
    if (total !== undefined && offset === total && offset > 0) break; // complete on disk already
    const file = await open(part, offset > 0 ? 'a' : 'w');
    let status = 0;
    let restartAtZero = false;
    let checkedSpace = total !== undefined;
    const headers: Record<string, string> = { ...spec.headers, 'accept-encoding': 'identity' };
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      // A server whose file changed since (other ETag) answers 200 with the whole new file.
      if (etag) headers['if-range'] = etag;
    }
    requests++;
    try {
      await safeFetch(spec.url, {
        allowlist: net.allowlist,
        maxBytes: net.maxBytes,
        timeoutMs: net.timeoutMs,
        idleTimeoutMs: net.timeoutMs,
        maxRedirects: net.maxRedirects,
        headers,
        signal: opts.signal,
        ...(net.resolve ? { resolve: net.resolve } : {}),
        onResponse: (s, h, url) => {
          responses.push({ status: s, url: url.href, headers: h });
          spec.checkHeaders?.(s, h);
          if (s >= 300 && s < 400) return;
          status = s;
          if (s === 200) {
            restartAtZero = offset > 0;
            const len = Number(h['content-length']);
            if (Number.isFinite(len) && total === undefined) total = len;
            if (typeof h.etag === 'string') etag = h.etag;
          } else if (s === 206) {
            const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(h['content-range'] ?? ''));
            if (!m || Number(m[1]) !== offset) throw new NodeError('pull_bad_range', `${spec.label}: the server answered a resume at byte ${offset} with range "${h['content-range'] ?? ''}"`);
            if (m[3] !== '*' && total === undefined) total = Number(m[3]);
          }
          if (total !== undefined && total > net.maxBytes)
            throw new NodeError('pull_too_large', `${spec.label} is ${formatBytes(total)}; the limit is ${formatBytes(net.maxBytes)} (MASKFLOW_MAX_PULL_FILE_MB)`, { limit: net.maxBytes });
        },
        onData: async (chunk) => {
          if (restartAtZero) {
            restartAtZero = false;
            await file.truncate(0);
            hash = createHash('sha256');
            offset = 0;
            prefix = spec.checkPrefix ? Buffer.alloc(0) : undefined;
          }
          if (!checkedSpace) {
            checkedSpace = true;
            if (total !== undefined) await assertFreeSpace(dir, total - offset, net.freeBytes);
            await writeMeta();
          }
          if (prefix) {
            prefix = Buffer.concat([prefix, chunk]);
            if (prefix.length >= (spec.prefixBytes ?? 16)) {
              spec.checkPrefix!(prefix);
              prefix = undefined;
            }
          }
          if (offset + chunk.length > net.maxBytes)
            throw new NodeError('pull_too_large', `${spec.label} exceeds the limit of ${formatBytes(net.maxBytes)} (MASKFLOW_MAX_PULL_FILE_MB)`, { limit: net.maxBytes });
          await file.write(chunk);
          hash.update(chunk);
          small?.push(Buffer.from(chunk));
          offset += chunk.length;
          opts.onBytes?.(offset, total);
        },
      });
      await file.close();
      if (status === 200 && restartAtZero) {
        // Empty 200 body for a resume: the file is empty.
        await file.close().catch(() => {});
        await writeFile(part, '');
        hash = createHash('sha256');
        offset = 0;
      }
      if (total !== undefined && offset < total) throw new NodeError('url_fetch_failed', `${spec.label}: connection closed after ${offset} of ${total} bytes`);
      break;
    } catch (err) {
      await file.close().catch(() => {});
      // A resume the server cannot satisfy (416): start over once, from byte 0.
      if (err instanceof NodeError && err.code === 'url_http_error' && err.details.status === 416 && offset > 0 && attempt < net.retries) {
        await writeFile(part, '');
        hash = createHash('sha256');
        offset = 0;
        continue;
      }
      if (err instanceof NodeError && (err.code === 'pull_too_large' || err.code === 'pull_not_safetensors' || err.code === 'pull_disk_full' || err.code === 'hub_inconsistent')) {
        await rm(part, { force: true });
        await rm(meta, { force: true });
        throw err;
      }
      if (!retryable(err) || attempt >= net.retries || opts.signal?.aborted) {
        // Bytes on disk are kept for the next run to resume; an empty start leaves nothing behind.
        if (offset === 0) {
          await rm(part, { force: true });
          await rm(meta, { force: true });
        }
        throw err;
      }
      await new Promise((r) => setTimeout(r, net.retryDelayMs * (attempt + 1)));
    }
  }
  if (prefix && spec.checkPrefix) spec.checkPrefix(prefix);

  const size = (await stat(part)).size;
  const sha256 = hash.digest('hex');
  const fail = async (code: string, message: string) => {
    await rm(part, { force: true });
    await rm(meta, { force: true });
    return new NodeError(code, message, { file: spec.label });
  };
  if (spec.expectedSize !== undefined && size !== spec.expectedSize)
    throw await fail('pull_size_mismatch', `${spec.label}: downloaded ${size} bytes but the source lists ${spec.expectedSize}; the file was deleted`);
  if (spec.expectedSha256 && sha256 !== spec.expectedSha256)
    throw await fail('pull_hash_mismatch', `${spec.label}: sha256 ${sha256} does not match the expected ${spec.expectedSha256}; the file was deleted`);
  if (spec.expectedGitSha1) {
    const got = gitBlobSha1(small?.length ? Buffer.concat(small) : await readFile(part));
    if (got !== spec.expectedGitSha1)
      throw await fail('pull_hash_mismatch', `${spec.label}: git blob sha1 ${got} does not match the expected ${spec.expectedGitSha1}; the file was deleted`);
  }
  await rename(part, spec.dest);
  await rm(meta, { force: true });
  return { path: spec.dest, size, sha256, resumedFrom, requests, responses };
}
