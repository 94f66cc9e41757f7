import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeError } from '../../server/engine/errors.js';
import { parseDataUri } from '../../server/image/data-uri.js';
import { assertPublicUrl, safeFetch, type SafeFetchOptions } from '../../server/image/fetch.js';

let server: http.Server;
let base: string;
let port: number;
let otherPort: number;
const other = http.createServer((_req, res) => res.end('other'));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/ok') {
      res.setHeader('content-type', 'image/png; charset=binary');
      res.end(Buffer.from([1, 2, 3, 4]));
    } else if (url.pathname === '/big') {
      res.end(Buffer.alloc(5000));
    } else if (url.pathname === '/big-chunked') {
      res.write(Buffer.alloc(3000));
      res.end(Buffer.alloc(3000));
    } else if (url.pathname === '/echo-auth') {
      res.end(String(req.headers.authorization ?? 'none'));
    } else if (url.pathname === '/slow') {
      setTimeout(() => res.end('late'), 2000);
    } else if (url.pathname === '/redirect') {
      res.statusCode = 302;
      res.setHeader('location', url.searchParams.get('to')!);
      res.end();
    } else if (url.pathname === '/loop') {
      res.statusCode = 301;
      res.setHeader('location', '/loop');
      res.end();
    } else {
      res.statusCode = 404;
      res.end('nope');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  otherPort = (other.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await new Promise((r) => other.close(r));
});

function opts(extra: Partial<SafeFetchOptions> = {}): SafeFetchOptions {
  return { allowlist: [`127.0.0.1:${port}`], maxBytes: 4096, timeoutMs: 1000, maxRedirects: 3, ...extra };
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NodeError);
    return { code: (err as NodeError).code, message: (err as NodeError).message };
  }
  throw new Error('expected a rejection');
}

describe('safeFetch', () => {
  it('fetches from an allow-listed local server', async () => {
    const res = await safeFetch(`${base}/ok`, opts());
    expect([...res.bytes]).toEqual([1, 2, 3, 4]);
    expect(res.contentType).toBe('image/png');
    expect(res.finalUrl).toBe(`${base}/ok`);
  });

  it('streams the body to onData when given, still under the byte limit', async () => {
    const got: number[] = [];
    const res = await safeFetch(`${base}/ok`, opts({ onData: (c) => void got.push(...c) }));
    expect(got).toEqual([1, 2, 3, 4]);
    expect(res.bytes.length).toBe(0);
    const err = await codeOf(safeFetch(`${base}/big-chunked`, opts({ onData: () => {} })));
    expect(err.code).toBe('url_too_large');
  });

  it.each([
    ['http://127.0.0.1:9/x', 'url_private_address', '127.0.0.1'],
    ['http://[::1]:9/x', 'url_private_address', '[::1]'],
    ['http://[::ffff:127.0.0.1]:9/x', 'url_private_address', '[::ffff:7f00:1]'],
    ['http://10.0.0.1/x', 'url_private_address', '10.0.0.1'],
    ['http://192.168.1.1/x', 'url_private_address', '192.168.1.1'],
    ['http://169.254.169.254/latest/meta-data/', 'url_metadata_address', '169.254.169.254'],
    ['http://[fd00:ec2::254]/', 'url_metadata_address', '[fd00:ec2::254]'],
    ['http://0.0.0.0:9/', 'url_private_address', '0.0.0.0'],
    ['http://224.0.0.1/', 'url_private_address', '224.0.0.1'],
    ['http://[fe80::1]/', 'url_private_address', '[fe80::1]'],
    ['http://0x7f000001:9/', 'url_private_address', '127.0.0.1'],
    ['http://[fc00::1]/', 'url_private_address', '[fc00::1]'],
    ['http://[64:ff9b::a00:1]/', 'url_private_address', '[64:ff9b::a00:1]'],
    ['http://100.64.0.1/', 'url_private_address', '100.64.0.1'],
    ['http://[::]/', 'url_private_address', '[::]'],
  ])('refuses %s', async (url, code, host) => {
    const t0 = performance.now();
    const err = await codeOf(safeFetch(url, opts()));
    expect(err.code).toBe(code);
    expect(err.message).toContain(host);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('refuses a name that resolves to loopback', async () => {
    const err = await codeOf(safeFetch(`http://localhost:${otherPort}/`, opts()));
    expect(err.code).toBe('url_resolves_to_private');
    expect(err.message).toContain('localhost');
  });

  it('refuses a name when any of its addresses is private (injected resolver)', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 as const },
      { address: '10.1.2.3', family: 4 as const },
    ];
    const err = await codeOf(safeFetch('http://example.test/img.png', opts({ resolve })));
    expect(err.code).toBe('url_resolves_to_private');
    expect(err.message).toContain('example.test');
    expect(err.message).toContain('10.1.2.3');
  });

  it('refuses a name resolving to an IPv4-mapped private address', async () => {
    const resolve = async () => [{ address: '::ffff:10.0.0.1', family: 6 as const }];
    const err = await codeOf(safeFetch('http://mapped.test/', opts({ resolve })));
    expect(err.code).toBe('url_resolves_to_private');
    expect(err.message).toContain('mapped.test');
  });

  it('pins the connection to the vetted address (no second DNS lookup)', async () => {
    let calls = 0;
    const resolve = async () => {
      calls++;
      return [{ address: '127.0.0.1', family: 4 as const }];
    };
    const res = await safeFetch(`http://images.test:${port}/ok`, opts({ resolve, allowlist: [`images.test:${port}`] }));
    expect(res.bytes.length).toBe(4);
    expect(calls).toBe(1);
  });

  it('refuses a redirect from an allowed server to loopback', async () => {
    const err = await codeOf(safeFetch(`${base}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${otherPort}/`)}`, opts()));
    expect(err.code).toBe('url_private_address');
    expect(err.message).toContain('127.0.0.1');
    const err2 = await codeOf(safeFetch(`${base}/redirect?to=${encodeURIComponent(`http://localhost:${otherPort}/`)}`, opts()));
    expect(err2.code).toBe('url_resolves_to_private');
  });

  it('follows an allowed redirect', async () => {
    const res = await safeFetch(`${base}/redirect?to=/ok`, opts());
    expect(res.finalUrl).toBe(`${base}/ok`);
  });

  it('does not forward credentials to another origin on redirect', async () => {
    const headers = { authorization: 'Bearer secret' };
    const same = await safeFetch(`${base}/redirect?to=/echo-auth`, opts({ headers }));
    expect(Buffer.from(same.bytes).toString()).toBe('Bearer secret');
    const to = encodeURIComponent(`http://localhost:${port}/echo-auth`);
    const cross = await safeFetch(`${base}/redirect?to=${to}`, opts({ headers, allowlist: [`127.0.0.1:${port}`, `localhost:${port}`] }));
    expect(Buffer.from(cross.bytes).toString()).toBe('none');
  });

  it('stops at once when the caller aborts', async () => {
    const ac = new AbortController();
    ac.abort(new Error('run cancelled'));
    await expect(safeFetch(`${base}/slow`, opts({ signal: ac.signal }))).rejects.toThrow('run cancelled');
  });

  it('refuses other schemes, also on redirect', async () => {
    expect((await codeOf(safeFetch('ftp://example.com/x', opts()))).code).toBe('url_scheme_not_allowed');
    expect((await codeOf(safeFetch('file:///etc/passwd', opts()))).code).toBe('url_scheme_not_allowed');
    const err = await codeOf(safeFetch(`${base}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`, opts()));
    expect(err.code).toBe('url_scheme_not_allowed');
  });

  it('limits redirects, bytes, time and reports HTTP errors', async () => {
    const loop = await codeOf(safeFetch(`${base}/loop`, opts()));
    expect(loop.code).toBe('url_too_many_redirects');
    expect(loop.message).toContain('127.0.0.1');
    expect((await codeOf(safeFetch(`${base}/big`, opts()))).code).toBe('url_too_large');
    expect((await codeOf(safeFetch(`${base}/big-chunked`, opts()))).code).toBe('url_too_large');
    const t0 = performance.now();
    const slow = await codeOf(safeFetch(`${base}/slow`, opts({ timeoutMs: 150 })));
    expect(slow.code).toBe('url_timeout');
    expect(slow.message).toContain('127.0.0.1');
    expect(performance.now() - t0).toBeLessThan(1000);
    const missing = await codeOf(safeFetch(`${base}/missing`, opts()));
    expect(missing.code).toBe('url_http_error');
    expect(missing.message).toContain('404');
  });

  it('allow-list entries: port-specific, CIDR and hostname', async () => {
    // The port-specific entry does not admit another port on the same address.
    expect((await codeOf(safeFetch(`http://127.0.0.1:${otherPort}/`, opts()))).code).toBe('url_private_address');
    const viaCidr = await safeFetch(`http://127.0.0.1:${otherPort}/`, opts({ allowlist: ['127.0.0.0/8'] }));
    expect(Buffer.from(viaCidr.bytes).toString()).toBe('other');
    const viaName = await safeFetch(`http://localhost:${otherPort}/`, opts({ allowlist: ['localhost'] }));
    expect(Buffer.from(viaName.bytes).toString()).toBe('other');
  });
});

describe('assertPublicUrl', () => {
  it('accepts public addresses and refuses private ones', async () => {
    const ok = await assertPublicUrl('https://93.184.216.34/hook');
    expect(ok.pinned.address).toBe('93.184.216.34');
    await expect(assertPublicUrl('http://172.16.0.5/hook')).rejects.toMatchObject({ code: 'url_private_address' });
    await expect(assertPublicUrl('http://100.100.100.200/')).rejects.toMatchObject({ code: 'url_metadata_address' });
    await expect(assertPublicUrl('not a url')).rejects.toMatchObject({ code: 'url_invalid' });
  });
});

describe('data URIs', () => {
  it('decodes base64 and percent-encoded payloads', () => {
    expect([...parseDataUri('data:image/png;base64,AQIDBA==', 100).bytes]).toEqual([1, 2, 3, 4]);
    const pct = parseDataUri('data:text/plain,a%20b%FF', 100);
    expect([...pct.bytes]).toEqual([97, 32, 98, 255]);
    expect(pct.contentType).toBe('text/plain');
  });

  it('applies the size limit before decoding and rejects malformed data', () => {
    const big = `data:image/png;base64,${'A'.repeat(4000)}`;
    expect(() => parseDataUri(big, 1000)).toThrow(expect.objectContaining({ code: 'url_too_large' }));
    expect(() => parseDataUri('data:image/png;base64,!!!', 1000)).toThrow(expect.objectContaining({ code: 'data_uri_invalid' }));
    expect(() => parseDataUri('data:nocomma', 1000)).toThrow(expect.objectContaining({ code: 'data_uri_invalid' }));
  });
});
