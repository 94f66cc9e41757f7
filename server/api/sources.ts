// Turns the URLs a client passes (image_url, mask_url, LoRA paths, webhook_url) into what
// the workflow's loaders accept, refusing unsafe ones before a job is queued:
// - data: URIs are stored as uploads (jobs then hold a short reference, not megabytes);
// - this server's own file URLs (/v1/files/<id>, absolute or relative) become upload:<id>;
// - other http(s) URLs must pass the SSRF policy (the worker checks again when it fetches).
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { NodeError } from '../engine/errors.js';
import { isDataUri, parseDataUri } from '../image/data-uri.js';
import { assertPublicUrl, type Resolver } from '../image/fetch.js';
import type { LocalFileStore } from '../storage/local-file-store.js';
import { HttpError, unprocessable } from '../http-errors.js';

export interface SourceContext {
  files: LocalFileStore;
  allowlist: readonly string[];
  maxBytes: number;
  /** Hosts (host[:port]) under which clients reach this server, for recognising its own file URLs. */
  selfHosts: Set<string>;
  resolve?: Resolver;
  /** Content-hash index so identical data URIs map to one upload id (and hit the node caches). */
  uploads?: { uploadByHash(sha256: string): string | undefined; putUploadHash(sha256: string, id: string): void };
}

const FILE_PATH = /^\/v1\/files\/([A-Za-z0-9_-]{16,64})(?:\.[a-z0-9]+)?$/;

export function selfHostsOf(req: Request, extra: string[] = []): Set<string> {
  const hosts = new Set(extra.map((h) => h.toLowerCase()));
  if (req.headers.host) hosts.add(req.headers.host.toLowerCase());
  return hosts;
}

async function uploadRef(id: string, ctx: SourceContext, field: string): Promise<string> {
  if (!(await ctx.files.meta(id))) throw new HttpError(422, 'upload_not_found', `upload "${id}" does not exist`, field);
  return `upload:${id}`;
}

/** Normalises one source; throws a 422 HttpError naming `field`. */
export async function normalizeSource(raw: string, field: string, ctx: SourceContext, opts: { allowData?: boolean; allowName?: boolean } = {}): Promise<string> {
  const text = raw.trim();
  if (!text) throw unprocessable('invalid_url', 'must not be empty', field);
  // LoRAs and embeddings may also name a file under the models directory (loras/, embeddings/).
  if (opts.allowName && /^[A-Za-z0-9_][A-Za-z0-9_. -]*(\/[A-Za-z0-9_][A-Za-z0-9_. -]*)*$/.test(text) && !text.split('/').includes('..')) return text;
  if (/^upload:/i.test(text)) return uploadRef(text.slice(7), ctx, field);
  if (isDataUri(text)) {
    if (opts.allowData === false) throw unprocessable('invalid_url', 'a data URI is not accepted here', field);
    try {
      const { bytes, contentType } = parseDataUri(text, ctx.maxBytes);
      const hash = createHash('sha256').update(contentType).update('\0').update(bytes).digest('hex');
      const known = ctx.uploads?.uploadByHash(hash);
      if (known && (await ctx.files.meta(known))) return `upload:${known}`;
      const ext = contentType.split('/')[1]?.replace(/[^a-z0-9]/g, '') || 'bin';
      const stored = await ctx.files.save(bytes, { contentType, ext });
      ctx.uploads?.putUploadHash(hash, stored.id);
      return `upload:${stored.id}`;
    } catch (err) {
      throw fromNodeError(err, field);
    }
  }
  const rel = FILE_PATH.exec(text);
  if (rel) return uploadRef(rel[1]!, ctx, field);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw unprocessable('invalid_url', 'must be an http(s) URL, a data URI or an upload URL (/v1/files/<id>)', field);
  }
  const own = FILE_PATH.exec(url.pathname);
  if (own && (url.protocol === 'http:' || url.protocol === 'https:') && ctx.selfHosts.has(url.host.toLowerCase())) {
    return uploadRef(own[1]!, ctx, field);
  }
  await assertSafeUrl(url.href, field, ctx);
  return url.href;
}

/** SSRF check of an outgoing URL (also used for webhooks). */
export async function assertSafeUrl(url: string, field: string, ctx: Pick<SourceContext, 'allowlist' | 'resolve'>): Promise<void> {
  try {
    await assertPublicUrl(url, ctx.allowlist, ctx.resolve);
  } catch (err) {
    throw fromNodeError(err, field);
  }
}

function fromNodeError(err: unknown, field: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof NodeError) {
    const status = err.code === 'url_too_large' ? 413 : 422;
    return new HttpError(status, err.code, err.message, field);
  }
  return unprocessable('invalid_url', err instanceof Error ? err.message : String(err), field);
}
