// API keys on REST and websocket, per-key rate limits, CORS; and the open default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys, keyFromAuthorization, RateLimiter } from '../../server/auth.js';
import { api, connectWs, startTestServer, toyWorkflow, type TestServer } from './helpers.js';

let keyed: TestServer;
let open: TestServer;
beforeAll(async () => {
  [keyed, open] = await Promise.all([
    startTestServer({ MASKFLOW_API_KEYS: 'k1, k2, k3, k4', MASKFLOW_RATE_LIMIT_PER_MINUTE: '5', MASKFLOW_CORS_ORIGINS: 'https://app.example' }),
    startTestServer(),
  ]);
});
afterAll(async () => {
  await Promise.all([keyed?.stop(), open?.stop()]);
});

describe('auth on', () => {
  it('requires a valid key on API calls, accepting Bearer and Key forms', async () => {
    const none = await api(keyed, 'GET', '/v1/nodes');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect((await api(keyed, 'GET', '/v1/nodes', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await api(keyed, 'GET', '/v1/nodes', undefined, { authorization: 'Bearer k1' })).status).toBe(200);
    expect((await api(keyed, 'GET', '/v1/workflows', undefined, { authorization: 'Key k1' })).status).toBe(200);
    expect((await api(keyed, 'POST', '/v1/runs', { workflow: toyWorkflow() })).status).toBe(401);
    expect((await api(keyed, 'GET', '/metrics')).status).toBe(401);
    // Probes and the API description stay open.
    expect((await api(keyed, 'GET', '/health')).status).toBe(200);
    expect((await api(keyed, 'GET', '/openapi.json')).body.security).toEqual([{ apiKey: [] }]);
  });

  it('checks the key when a websocket connects', async () => {
    await expect(connectWs(keyed)).rejects.toThrow(/401/);
    await expect(connectWs(keyed, { query: '?api_key=bad' })).rejects.toThrow(/401/);
    const a = await connectWs(keyed, { headers: { authorization: 'Bearer k1' } });
    await a.next((m) => m.type === 'hello');
    await a.close();
    const b = await connectWs(keyed, { query: '?api_key=k1' });
    b.send({ type: 'ping', ref: 'p' });
    expect((await b.next((m) => m.ref === 'p')).type).toBe('pong');
    await b.close();
  });

  it('limits requests per key per minute with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let last: any;
    for (let i = 0; i < 7; i++) {
      last = await api(keyed, 'GET', '/v1/workflows', undefined, { authorization: 'Bearer k2' });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    expect(last.body.error.code).toBe('rate_limited');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another key has its own budget.
    expect((await api(keyed, 'GET', '/v1/workflows', undefined, { authorization: 'Bearer k1' })).status).toBe(200);
  });

  it('lists only the caller\'s own runs', async () => {
    const mine = await api(keyed, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1) }, { authorization: 'Bearer k3' });
    expect(mine.status).toBe(202);
    const own = await api(keyed, 'GET', '/v1/runs', undefined, { authorization: 'Bearer k3' });
    expect(own.body.runs.map((r: any) => r.id)).toEqual([mine.body.id]);
    expect((await api(keyed, 'GET', '/v1/runs', undefined, { authorization: 'Bearer k4' })).body.runs).toEqual([]);
  });

  it('answers CORS preflights only for configured origins', async () => {
    const ok = await fetch(`${keyed.url}/v1/inpaint`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await fetch(`${keyed.url}/v1/nodes`, { headers: { origin: 'https://evil.example', authorization: 'Bearer k1' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('auth off (default)', () => {
  it('serves API and websocket without keys and sends no CORS headers', async () => {
    const r = await fetch(`${open.url}/v1/nodes`, { headers: { origin: 'https://app.example' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const c = await connectWs(open);
    await c.next((m) => m.type === 'hello');
    await c.close();
  });
});

describe('auth helpers', () => {
  it('parses Authorization headers and compares keys', () => {
    expect(keyFromAuthorization('Bearer abc')).toBe('abc');
    expect(keyFromAuthorization('key abc ')).toBe('abc');
    expect(keyFromAuthorization('Basic abc')).toBeUndefined();
    const keys = new ApiKeys(['a', 'b']);
    expect(keys.check('a')).toBe(true);
    expect(keys.check('c')).toBe(false);
    expect(keys.check(undefined)).toBe(false);
    expect(new ApiKeys([]).check(undefined)).toBe(true);
  });

  it('resets the rate window after a minute', () => {
    let now = 0;
    const l = new RateLimiter(2, () => now);
    expect([l.take('x'), l.take('x')]).toEqual([0, 0]);
    expect(l.take('x')).toBe(60);
    now = 30_000;
    expect(l.take('x')).toBe(30);
    now = 60_000;
    expect(l.take('x')).toBe(0);
  });
});
