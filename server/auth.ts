// API keys (Authorization: Bearer <key> | Key <key>) and a per-key request rate limit.
// With no keys configured the server is open (local use); identity is then the client IP.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './http-errors.js';

export function keyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(?:Bearer|Key)\s+(\S+)\s*$/i.exec(header.trim());
  return m?.[1];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class ApiKeys {
  private readonly digests: Buffer[];
  constructor(keys: string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Compares digests in constant time, so response timing reveals nothing about the keys. */
  check(key: string | undefined): boolean {
    if (!this.enabled) return true;
    if (!key) return false;
    const d = digest(key);
    let ok = false;
    for (const k of this.digests) ok = timingSafeEqual(k, d) || ok;
    return ok;
  }

  /** A short, non-reversible label for logs, metrics and rate limiting. */
  static label(key: string): string {
    return `key:${digest(key).toString('hex').slice(0, 12)}`;
  }
}

/** Fixed one-minute windows per identity; cheap and good enough to stop floods. */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns 0 when allowed, otherwise seconds until the window resets. */
  take(identity: string): number {
    if (this.perMinute <= 0) return 0;
    const t = this.now();
    let w = this.windows.get(identity);
    if (!w || t - w.start >= 60_000) {
      w = { start: t, count: 0 };
      this.windows.set(identity, w);
      if (this.windows.size > 10_000) this.prune(t);
    }
    if (w.count >= this.perMinute) return Math.max(1, Math.ceil((w.start + 60_000 - t) / 1000));
    w.count++;
    return 0;
  }

  private prune(t: number): void {
    for (const [k, w] of this.windows) if (t - w.start >= 60_000) this.windows.delete(k);
  }
}

export interface AuthOptions {
  keys: ApiKeys;
  limiter: RateLimiter;
  /** Paths under the API that need no key (health probes, capability URLs of files). */
  isPublic?: (path: string, method: string) => boolean;
  /** Paths that need a key but are not rate limited (scale-out workers storing outputs). */
  isUnlimited?: (path: string, method: string) => boolean;
}

/** Who is calling: the key's label, or the client address when keys are off. */
export function identityOf(key: string | undefined, ip: string | undefined): string {
  return key ? ApiKeys.label(key) : `ip:${ip ?? 'unknown'}`;
}

export function authMiddleware(opts: AuthOptions): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'OPTIONS' || opts.isPublic?.(req.path, req.method)) return next();
    const key = keyFromAuthorization(req.headers.authorization);
    if (!opts.keys.check(key)) {
      return next(
        new HttpError(401, 'unauthorized', key ? 'API key is not valid' : 'an API key is required (Authorization: Bearer <key> or Key <key>)', undefined, {}, { 'WWW-Authenticate': 'Bearer' }),
      );
    }
    const retryAfter = opts.isUnlimited?.(req.path, req.method) ? 0 : opts.limiter.take(identityOf(opts.keys.enabled ? key : undefined, req.ip));
    if (retryAfter > 0) {
      return next(new HttpError(429, 'rate_limited', `too many requests; retry in ${retryAfter} s`, undefined, {}, { 'Retry-After': String(retryAfter) }));
    }
    res.locals.identity = identityOf(opts.keys.enabled ? key : undefined, req.ip);
    next();
  };
}
