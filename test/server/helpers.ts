// Starts real servers on 127.0.0.1:0 with a temp data dir, and small HTTP/websocket clients.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { loadConfig } from '../../server/config.js';
import { startServer, type RunningServer, type StartOptions } from '../../server/main.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const TOY_NODES = path.join(REPO, 'test/helpers/toy-nodes');
export const REAL_NODES = path.join(REPO, 'nodes');
export const FIXTURE_MODELS = path.join(REPO, 'test/fixtures/models');

export interface TestServer extends RunningServer {
  dataDir: string;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export function tempDir(prefix = 'maskflow-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startTestServer(env: Record<string, string> = {}, opts: StartOptions & { dataDir?: string } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const config = loadConfig(
    {
      MASKFLOW_HOST: '127.0.0.1',
      MASKFLOW_PORT: '0',
      MASKFLOW_DATA_DIR: dataDir,
      MASKFLOW_MODELS_DIR: FIXTURE_MODELS,
      MASKFLOW_LOG_LEVEL: 'silent',
      MASKFLOW_THREADS: '1',
      ...env,
    },
    REPO,
  );
  const server = await startServer(config, { nodeDirs: [TOY_NODES], builtinWorkflowsDir: path.join(REPO, 'workflows'), ...opts });
  return {
    ...server,
    dataDir,
    async stop({ keepData = false } = {}) {
      await server.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
  ms: number;
}

export async function api<T = any>(server: { url: string }, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
  const t0 = performance.now();
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Uint8Array) init.body = body as string;
    else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
  }
  const res = await fetch(`${server.url}${p}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed as T, headers: res.headers, ms: performance.now() - t0 };
}

export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A toy workflow: constant -> slow (progress per step) -> sink. */
/** Waits until a run has ended (succeeded, failed or cancelled) and returns its GET /v1/runs/:id record. */
export function finishedRun(server: { url: string }, id: string, opts: { timeoutMs?: number; headers?: Record<string, string>; everyMs?: number } = {}) {
  return until(
    async () => {
      const r = (await api(server, 'GET', `/v1/runs/${id}`, undefined, opts.headers)).body;
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
    },
    opts.timeoutMs ?? 20_000,
    opts.everyMs ?? 25,
  );
}

export function toyWorkflow(steps = 3, ms = 10) {
  return {
    version: 1,
    name: 'toy-slow',
    inputs: {
      value: { node: 'c', param: 'value' },
      steps: { node: 's', param: 'steps' },
      ms: { node: 's', param: 'ms' },
      seed: { node: 's', param: 'seed' },
    },
    nodes: {
      c: { type: 'toy/constant', params: { value: 1 } },
      s: { type: 'toy/slow', params: { steps, ms }, inputs: { value: ['c', 'value'] } },
      out: { type: 'toy/sink', inputs: { value: ['s', 'value'] } },
    },
  };
}

/** A workflow that busy-blocks its worker thread, as a synchronous ORT run() does. */
export function blockingWorkflow(ms: number) {
  return {
    version: 1,
    nodes: {
      c: { type: 'toy/constant', params: { value: 7 } },
      b: { type: 'toy/block', params: { ms }, inputs: { value: ['c', 'value'] } },
      out: { type: 'toy/sink', inputs: { value: ['b', 'value'] } },
    },
  };
}

export interface WsClient {
  ws: WebSocket;
  messages: any[];
  frames: Buffer[];
  send(msg: object): void;
  next(pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export function connectWs(server: { url: string }, opts: { headers?: Record<string, string>; query?: string } = {}): Promise<WsClient> {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws${opts.query ?? ''}`, { headers: opts.headers });
  const messages: any[] = [];
  const frames: Buffer[] = [];
  const waiters: Array<{ pred: (m: any) => boolean; resolve: (m: any) => void }> = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      frames.push(data as Buffer);
      return;
    }
    const m = JSON.parse(String(data));
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`websocket refused: ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        frames,
        send: (msg) => ws.send(JSON.stringify(msg)),
        next: (pred, timeoutMs = 20_000) => {
          const found = messages.find(pred);
          if (found) return Promise.resolve(found);
          return new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error('websocket message not received in time')), timeoutMs);
            waiters.push({ pred, resolve: (m) => (clearTimeout(t), res(m)) });
          });
        },
        close: () => new Promise<void>((res) => {
          if (ws.readyState === WebSocket.CLOSED) return res();
          ws.once('close', () => res());
          ws.close();
        }),
      }),
    );
  });
}
