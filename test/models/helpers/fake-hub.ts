// A fake Hugging Face Hub on 127.0.0.1 (plain node:http), implementing what maskflow's pull
// client uses, the way huggingface.co answers it:
//   GET /api/models/{owner}/{name}/revision/{rev}?blobs=true -> {id, sha, siblings[{rfilename, size, blobId, lfs?}]}
//   GET /{owner}/{name}/resolve/{rev}/{path} -> LFS files: 302 to /cdn/{sha256} with X-Repo-Commit,
//       X-Linked-Etag, X-Linked-Size; small files: 200 with ETag = git blob sha1
//   GET /cdn/{sha256}, GET /dl/{name} (direct URLs with Content-Disposition): bytes, Range -> 206
// Knobs: gated repos (401 without the token), files served with wrong bytes, a connection cut
// after half of a file on its first request, and a request log to assert on.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FakeRepo {
  /** repo path -> bytes */
  files: Map<string, Buffer>;
  commit: string;
  gated?: boolean;
  /** Paths whose served bytes differ from what the listing announces. */
  corrupt?: Set<string>;
  /** Paths whose resolve answer links another sha256 (X-Linked-Etag) than the listing. */
  wrongLinkedEtag?: Set<string>;
}

export interface DirectFile {
  body: Buffer;
  disposition?: string;
}

export interface LoggedRequest {
  method: string;
  url: string;
  range?: string;
  auth?: string;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const isLfs = (p: string) => /\.(safetensors|onnx|onnx_data|bin|ckpt|pb)$/.test(p);

/** All files of a folder, keyed by '/'-separated relative path. */
export function readTree(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    const rel = prefix ? `${prefix}/${e}` : e;
    if (statSync(p).isDirectory()) for (const [k, v] of readTree(p, rel)) out.set(k, v);
    else out.set(rel, readFileSync(p));
  }
  return out;
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly direct = new Map<string, DirectFile>();
  /** sha256 of files whose first request is cut after half the bytes. */
  readonly cutOnce = new Set<string>();
  /** Bytes per chunk and delay between chunks of CDN responses (slow downloads for progress tests). */
  throttle?: { chunk: number; delayMs: number };
  readonly log: LoggedRequest[] = [];
  token = 'hf_test_token';
  private readonly blobs = new Map<string, Buffer>();
  private server?: http.Server;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  addRepo(id: string, files: Map<string, Buffer>, opts: { gated?: boolean; corrupt?: string[]; wrongLinkedEtag?: string[] } = {}): FakeRepo {
    const repo: FakeRepo = {
      files,
      commit: createHash('sha1').update(id).digest('hex'),
      ...(opts.gated ? { gated: true } : {}),
      ...(opts.corrupt ? { corrupt: new Set(opts.corrupt) } : {}),
      ...(opts.wrongLinkedEtag ? { wrongLinkedEtag: new Set(opts.wrongLinkedEtag) } : {}),
    };
    this.repos.set(id, repo);
    for (const b of files.values()) this.blobs.set(sha256(b), b);
    return repo;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  requestsFor(part: string): LoggedRequest[] {
    return this.log.filter((r) => r.url.includes(part));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.log.push({ method: req.method ?? 'GET', url: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    const authed = req.headers.authorization === `Bearer ${this.token}`;
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);

    if (parts[0] === 'api' && parts[1] === 'models') {
      const id = `${parts[2]}/${parts[3]}`;
      const repo = this.repos.get(id);
      if (!repo || parts[4] !== 'revision') return this.error(res, 401, 'RepoNotFound', `Repository Not Found for url: ${url.pathname}`);
      if (parts[5] !== 'main' && parts[5] !== repo.commit) return this.error(res, 404, 'RevisionNotFound', 'Invalid rev id');
      const blobs = url.searchParams.get('blobs') === 'true';
      const siblings = [...repo.files].map(([p, b]) => ({
        rfilename: p,
        ...(blobs ? { size: b.length, blobId: gitSha1(b) } : {}),
        ...(blobs && isLfs(p) ? { lfs: { sha256: sha256(b), size: b.length, pointerSize: 134 } } : {}),
      }));
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ _id: 'x', id, modelId: id, sha: repo.commit, private: false, gated: repo.gated ? 'manual' : false, siblings }));
      return;
    }

    if (parts[2] === 'resolve') {
      const id = `${parts[0]}/${parts[1]}`;
      const repo = this.repos.get(id);
      const file = parts.slice(4).join('/');
      const body = repo?.files.get(file);
      if (!repo) return this.error(res, 401, 'RepoNotFound', 'Repository Not Found');
      if (repo.gated && !authed) return this.error(res, 401, 'GatedRepo', `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      if (!body) return this.error(res, 404, 'EntryNotFound', `${file} does not exist`);
      res.setHeader('x-repo-commit', repo.commit);
      if (isLfs(file)) {
        const sha = sha256(body);
        const linked = repo.wrongLinkedEtag?.has(file) ? sha256(Buffer.from('other')) : sha;
        res.writeHead(302, { location: `/cdn/${sha}?repo=${encodeURIComponent(id)}&file=${encodeURIComponent(file)}`, 'x-linked-etag': `"${linked}"`, 'x-linked-size': String(body.length), etag: `"${gitSha1(body)}"` });
        res.end();
        return;
      }
      res.setHeader('etag', `"${gitSha1(body)}"`);
      return this.send(req, res, repo.corrupt?.has(file) ? corrupted(body) : body);
    }

    if (parts[0] === 'cdn') {
      let body = this.blobs.get(parts[1]!);
      if (!body) return this.error(res, 404, 'EntryNotFound', 'no such blob');
      const file = url.searchParams.get('file') ?? '';
      if (this.repos.get(url.searchParams.get('repo') ?? '')?.corrupt?.has(file)) body = corrupted(body);
      const cut = this.cutOnce.delete(parts[1]!);
      return this.send(req, res, body, { etag: `"${parts[1]}"` }, cut);
    }

    if (parts[0] === 'dl') {
      const f = this.direct.get(parts[1]!);
      if (!f) return this.error(res, 404, 'EntryNotFound', 'no such file');
      return this.send(req, res, f.body, f.disposition ? { 'content-disposition': f.disposition } : {}, this.cutOnce.delete(sha256(f.body)));
    }
    this.error(res, 404, 'NotFound', 'no route');
  }

  private error(res: http.ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': message });
    res.end(JSON.stringify({ error: message }));
  }

  /** Serves bytes with Range support; `cut` sends half the bytes, then drops the connection. */
  private send(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, headers: Record<string, string> = {}, cut = false): void {
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { ...headers, 'accept-ranges': 'bytes', 'content-length': String(body.length - start), 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else res.writeHead(200, { ...headers, 'accept-ranges': 'bytes', 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
    const rest = body.subarray(start);
    if (cut) {
      res.write(rest.subarray(0, rest.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (!this.throttle) {
      res.end(rest);
      return;
    }
    const { chunk, delayMs } = this.throttle;
    let at = 0;
    const next = () => {
      if (res.destroyed) return;
      if (at >= rest.length) return void res.end();
      res.write(rest.subarray(at, at + chunk));
      at += chunk;
      setTimeout(next, delayMs);
    };
    next();
  }
}

/** Same length, one byte flipped in the middle. */
function corrupted(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[c.length >> 1] ^= 0xff;
  return c;
}
