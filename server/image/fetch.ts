// SSRF-safe URL fetching, reused for images, LoRA downloads and webhooks.
// The host is resolved here (every address checked), the connection is pinned to the
// vetted address through a custom `lookup` so DNS rebinding cannot swap it, and every
// redirect is vetted again. Limits on bytes, redirects and total time.
import http from 'node:http';
import https from 'node:https';
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { NodeError } from '../engine/errors.js';
import { AddressAllowlist, classifyAddress, describeClass, parseIp } from './address-policy.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface SafeFetchOptions {
  /** Hosts, IPs or CIDRs (optionally with :port) admitted although not public. */
  allowlist?: readonly string[];
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  signal?: AbortSignal;
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** DNS resolver (defaults to dns.lookup with all addresses); tests inject one. */
  resolve?: Resolver;
  /**
   * Streams the body instead of buffering it (large downloads such as LoRA files):
   * each chunk is passed here, awaited, and `bytes` of the result is empty.
   */
  onData?: (chunk: Uint8Array) => void | Promise<void>;
  /**
   * Streaming downloads of gigabytes: the timeout restarts with every received chunk and lasts this
   * long (`timeoutMs` then bounds only the wait for the first byte).
   */
  idleTimeoutMs?: number;
  /** Sees every response's status and headers, redirects included (Hub metadata headers, Content-Range). */
  onResponse?: (status: number, headers: http.IncomingHttpHeaders, url: URL) => void;
}

export interface SafeFetchResult {
  bytes: Uint8Array;
  contentType: string;
  finalUrl: string;
  status: number;
}

export interface VettedUrl {
  url: URL;
  /** The address a connection must use (the first vetted one). */
  pinned: ResolvedAddress;
}

const defaultResolve: Resolver = async (hostname) => {
  const all = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

function parseUrl(raw: string | URL): URL {
  try {
    return raw instanceof URL ? raw : new URL(raw);
  } catch {
    throw new NodeError('url_invalid', `"${String(raw).slice(0, 100)}" is not a valid URL`);
  }
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/**
 * Checks that a URL is http(s) and that its host (after DNS resolution) is public or
 * admitted by the allow-list. Returns the address to connect to. Webhook senders call
 * this before connecting; safeFetch calls it for the URL and every redirect.
 */
export async function assertPublicUrl(
  raw: string | URL,
  allowlist: readonly string[] = [],
  resolve: Resolver = defaultResolve,
): Promise<VettedUrl> {
  const url = parseUrl(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new NodeError('url_scheme_not_allowed', `URL scheme "${url.protocol.replace(/:$/, '')}" is not allowed for host "${url.hostname}"; use http or https`, { host: url.hostname });
  }
  const host = url.hostname;
  if (!host) throw new NodeError('url_invalid', 'URL has no host');
  const port = portOf(url);
  const rules = new AddressAllowlist(allowlist);

  const literal = parseIp(host);
  if (literal) {
    const cls = classifyAddress(literal);
    if (cls !== 'public' && !rules.admitsAddress(literal, port)) {
      throw new NodeError(
        cls === 'metadata' ? 'url_metadata_address' : 'url_private_address',
        `URL host "${host}" is ${describeClass(cls)}; refused (add it to MASKFLOW_URL_ALLOWLIST to allow it)`,
        { host },
      );
    }
    const address = literal.toString();
    return { url, pinned: { address, family: literal.kind() === 'ipv6' ? 6 : 4 } };
  }

  let addresses: ResolvedAddress[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    throw new NodeError('url_dns_failed', `could not resolve host "${host}": ${(err as Error).message}`, { host });
  }
  if (addresses.length === 0) throw new NodeError('url_dns_failed', `host "${host}" resolved to no address`, { host });
  const hostAdmitted = rules.admitsHost(host, port);
  for (const a of addresses) {
    const ip = parseIp(a.address);
    if (!ip) throw new NodeError('url_dns_failed', `host "${host}" resolved to an invalid address "${a.address}"`, { host });
    const cls = classifyAddress(ip);
    if (cls !== 'public' && !hostAdmitted && !rules.admitsAddress(ip, port)) {
      throw new NodeError(
        'url_resolves_to_private',
        `URL host "${host}" resolves to ${a.address}, ${describeClass(cls)}; refused (add it to MASKFLOW_URL_ALLOWLIST to allow it)`,
        { host, address: a.address },
      );
    }
  }
  return { url, pinned: addresses[0]! };
}

function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  }) as unknown as LookupFunction;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

function send(
  target: VettedUrl,
  headers: Record<string, string> | undefined,
  method: string,
  body: Uint8Array | string | undefined,
  signal: AbortSignal,
): Promise<RawResponse> {
  const { url, pinned } = target;
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: portOf(url),
        path: `${url.pathname}${url.search}`,
        method,
        headers: { 'user-agent': 'maskflow', accept: '*/*', ...headers },
        lookup: pinnedLookup(pinned),
        signal,
        ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
      },
      (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

async function readBody(res: RawResponse, url: URL, maxBytes: number, onData?: SafeFetchOptions['onData']): Promise<Uint8Array> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw new NodeError('url_too_large', `response from "${url.hostname}" is ${declared} bytes; the limit is ${maxBytes}`, { host: url.hostname, limit: maxBytes });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      res.body.destroy();
      throw new NodeError('url_too_large', `response from "${url.hostname}" exceeds the limit of ${maxBytes} bytes`, { host: url.hostname, limit: maxBytes });
    }
    if (onData) await onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    else chunks.push(chunk);
  }
  if (onData) return new Uint8Array(0);
  const buf = Buffer.concat(chunks, total);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Fetches a URL under the SSRF policy and the given limits. */
export async function safeFetch(raw: string | URL, opts: SafeFetchOptions): Promise<SafeFetchResult> {
  const first = parseUrl(raw);
  const controller = new AbortController();
  let timedOut = false;
  const expire = () => {
    timedOut = true;
    controller.abort();
  };
  let timer = setTimeout(expire, opts.timeoutMs);
  const idle = opts.idleTimeoutMs;
  const onData =
    idle !== undefined && opts.onData
      ? (chunk: Uint8Array) => {
          clearTimeout(timer);
          timer = setTimeout(expire, idle);
          return opts.onData!(chunk);
        }
      : opts.onData;
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) controller.abort();
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  aborted.catch(() => {});

  let url = first;
  let method = (opts.method ?? 'GET').toUpperCase();
  let body = opts.body;
  let headers = opts.headers;
  try {
    for (let redirects = 0; ; redirects++) {
      if (controller.signal.aborted) throw new Error('aborted');
      const target = await Promise.race([assertPublicUrl(url, opts.allowlist, opts.resolve), aborted]);
      const res = await Promise.race([send(target, headers, method, body, controller.signal), aborted]);
      try {
        opts.onResponse?.(res.status, res.headers, url);
      } catch (err) {
        res.body.destroy();
        throw err;
      }
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && res.status !== 304 && location) {
        res.body.resume();
        if (redirects >= opts.maxRedirects) {
          throw new NodeError('url_too_many_redirects', `"${first.hostname}" redirected more than ${opts.maxRedirects} times (last host "${url.hostname}")`, { host: url.hostname });
        }
        const next = parseUrl(new URL(location, url));
        // Credentials meant for one origin are not sent to another.
        if (next.origin !== url.origin && headers) {
          headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !/^(authorization|cookie|proxy-authorization)$/i.test(k)));
        }
        url = next;
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        res.body.resume();
        throw new NodeError('url_http_error', `"${url.hostname}" answered HTTP ${res.status} for ${url.pathname}`, { host: url.hostname, status: res.status });
      }
      const bytes = await Promise.race([readBody(res, url, opts.maxBytes, onData), aborted]);
      const contentType = String(res.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
      return { bytes, contentType, finalUrl: url.href, status: res.status };
    }
  } catch (err) {
    if (err instanceof NodeError) throw err;
    if (timedOut) {
      throw new NodeError('url_timeout', `fetching from "${url.hostname}" took longer than ${opts.timeoutMs} ms${idle !== undefined ? ` to start or stalled for ${idle} ms` : ''}`, { host: url.hostname });
    }
    if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted');
    throw new NodeError('url_fetch_failed', `could not fetch from "${url.hostname}": ${(err as Error).message}`, { host: url.hostname });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
