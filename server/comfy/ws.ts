// ComfyUI's websocket protocol (server.py / execution.py): `status` with the sid on connect
// and whenever the queue changes, then for each prompt execution_start, execution_cached,
// executing (ending with node: null), progress, executed, execution_success |
// execution_error | execution_interrupted, and binary previews framed as
// u32 BE event (1 = PREVIEW_IMAGE) | u32 BE format (1 = JPEG, 2 = PNG) | image bytes.
// Execution messages go to the prompt's client_id, or to everyone when it has none.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiKeys, identityOf, keyFromAuthorization } from '../auth.js';
import type { RunEvent } from '../engine/events.js';
import type { JobRecord } from '../queue/job-store.js';
import type { AppDeps } from '../api/context.js';
import { comfyInfoOf, executedNodes, failureMessage, nodeOutput, type ComfyJobInfo } from './history.js';
import type { ComfyService } from './service.js';

/** Above this many buffered bytes a client gets no more previews. */
const PREVIEW_BACKPRESSURE_BYTES = 4 * 1024 * 1024;
const PREVIEW_IMAGE = 1;

interface RunState {
  /** Comfy node last announced with `executing`. */
  current?: string;
  cached: string[];
  cachedSent: boolean;
  /** Comfy nodes that finished (for execution_error's `executed`). */
  executed: Set<string>;
}

/** ComfyUI clients connect to /ws?clientId=… (or /api/ws); maskflow's own protocol keeps plain /ws. */
export function isComfySocket(url: URL): boolean {
  return url.pathname === '/api/ws' || (url.pathname === '/ws' && url.searchParams.has('clientId'));
}

export function previewFrame(mime: string, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + data.byteLength);
  out.writeUInt32BE(PREVIEW_IMAGE, 0);
  out.writeUInt32BE(mime === 'image/png' ? 2 : 1, 4);
  out.set(data, 8);
  return out;
}

export class ComfyHub {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Map<string, WebSocket>();
  private readonly runs = new Map<string, RunState>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: AppDeps,
    private readonly service: ComfyService,
    private readonly keys: ApiKeys,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    this.unsubscribe = deps.queue.subscribe((e, job) => this.onEvent(e, job));
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Takes a websocket upgrade that is ComfyUI's; returns false for others. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!isComfySocket(url)) return false;
    const key = keyFromAuthorization(req.headers.authorization) ?? url.searchParams.get('token') ?? url.searchParams.get('api_key') ?? undefined;
    if (!this.keys.check(key)) {
      const body = JSON.stringify({ error: { code: 'unauthorized', message: 'an API key is required (Authorization header, ?token= or ?api_key=)' } });
      socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return true;
    }
    const sid = url.searchParams.get('clientId') || randomUUID().replace(/-/g, '');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, sid, identityOf(this.keys.enabled ? key : undefined, req.socket.remoteAddress)));
    return true;
  }

  close(): void {
    this.unsubscribe();
    for (const ws of this.sockets.values()) ws.terminate();
    this.wss.close();
  }

  private onConnection(ws: WebSocket, sid: string, _identity: string): void {
    // Reusing a sid replaces the old socket, as ComfyUI does.
    this.sockets.get(sid)?.close();
    this.sockets.set(sid, ws);
    this.send(ws, 'status', { status: this.queueInfo(), sid });
    for (const { job, info } of this.service.active()) {
      const state = this.runs.get(job.id);
      if (info.extra_data.client_id === sid && state?.current) this.send(ws, 'executing', { node: state.current, display_node: state.current, prompt_id: info.prompt_id });
    }
    ws.on('close', () => {
      if (this.sockets.get(sid) === ws) this.sockets.delete(sid);
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', () => {
      /* ComfyUI ignores client messages too */
    });
  }

  private queueInfo() {
    return { exec_info: { queue_remaining: this.service.queueRemaining() } };
  }

  private send(ws: WebSocket, type: string, data: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, data }));
  }

  private broadcastStatus(): void {
    const status = { status: this.queueInfo() };
    for (const ws of this.sockets.values()) this.send(ws, 'status', status);
  }

  /** The prompt's client, or everyone when it named none. */
  private targets(info: ComfyJobInfo): WebSocket[] {
    const sid = info.extra_data.client_id;
    if (typeof sid !== 'string') return [...this.sockets.values()];
    const ws = this.sockets.get(sid);
    return ws ? [ws] : [];
  }

  private emit(info: ComfyJobInfo, type: string, data: Record<string, unknown>): void {
    for (const ws of this.targets(info)) this.send(ws, type, data);
  }

  private flushCached(info: ComfyJobInfo, state: RunState): void {
    if (state.cachedSent) return;
    state.cachedSent = true;
    this.emit(info, 'execution_cached', { nodes: [...new Set(state.cached)], prompt_id: info.prompt_id, timestamp: Date.now() });
  }

  private onEvent(e: RunEvent, job: JobRecord): void {
    const info = comfyInfoOf(job);
    if (!info) return;
    const comfyId = (mf: string) => info.node_map[mf] ?? mf;
    let state = this.runs.get(job.id);
    switch (e.type) {
      case 'run:queued':
        this.broadcastStatus();
        return;
      case 'run:start':
        state = { cached: [], cachedSent: false, executed: new Set() };
        this.runs.set(job.id, state);
        this.broadcastStatus();
        this.emit(info, 'execution_start', { prompt_id: info.prompt_id, timestamp: Date.now() });
        return;
      case 'node:cached':
        state?.cached.push(comfyId(e.nodeId));
        return;
      case 'node:start': {
        if (!state) return;
        this.flushCached(info, state);
        const node = comfyId(e.nodeId);
        if (state.current === node) return;
        state.current = node;
        this.emit(info, 'executing', { node, display_node: node, prompt_id: info.prompt_id });
        return;
      }
      case 'node:progress': {
        const node = comfyId(e.nodeId);
        this.emit(info, 'progress', { value: e.done, max: e.total, prompt_id: info.prompt_id, node });
        if (e.preview) {
          const frame = previewFrame(e.preview.mime, e.preview.data);
          for (const ws of this.targets(info)) if (ws.readyState === ws.OPEN && ws.bufferedAmount < PREVIEW_BACKPRESSURE_BYTES) ws.send(frame, { binary: true });
        }
        return;
      }
      case 'node:done':
        state?.executed.add(comfyId(e.nodeId));
        if (e.ui && (info.outputs[e.nodeId] || Object.keys(e.ui).length)) {
          const node = comfyId(e.nodeId);
          this.emit(info, 'executed', { node, display_node: node, output: nodeOutput(this.service.files, info, e.nodeId, e.ui), prompt_id: info.prompt_id });
        }
        return;
      case 'run:done':
        if (state) this.flushCached(info, state);
        this.emit(info, 'execution_success', { prompt_id: info.prompt_id, timestamp: Date.now() });
        this.finish(job, info);
        return;
      case 'run:error':
      case 'run:cancelled': {
        if (job.startedAt === undefined) {
          // Deleted while waiting: ComfyUI drops it silently; the queue changed.
          this.runs.delete(job.id);
          this.broadcastStatus();
          return;
        }
        const at = e.type === 'run:cancelled' ? e.nodeId : undefined;
        const [type, data] = failureMessage(info, job, state ? [...state.executed] : executedNodes(info, job), at);
        if (data.node_id === null && state?.current) {
          data.node_id = state.current;
          data.node_type = info.prompt[state.current]?.class_type ?? null;
        }
        this.emit(info, type, data);
        this.finish(job, info);
        return;
      }
      default:
        return;
    }
  }

  /** After a prompt reached history: the queue changed, and `executing` with node null ends it. */
  private finish(job: JobRecord, info: ComfyJobInfo): void {
    this.runs.delete(job.id);
    this.broadcastStatus();
    this.emit(info, 'executing', { node: null, display_node: null, prompt_id: info.prompt_id });
  }
}
