// The editor's side of the websocket protocol (docs/websocket.md, server/ws/protocol.ts): run a workflow, follow its
// events, cancel it. Kept small so protocol changes touch this file only.
import type { RunErrorInfo } from './types.js';

export interface PreviewFrame {
  runId?: string;
  nodeId?: string;
  blob: Blob;
}

/** Server messages the editor reacts to (server/engine/events.ts plus acknowledgements). */
export type ServerMessage =
  | { type: 'run:queued'; runId: string; position: number; ref?: string }
  | { type: 'run:start'; runId: string; nodes: string[] }
  | { type: 'node:start'; runId: string; nodeId: string; nodeType: string }
  | { type: 'node:cached'; runId: string; nodeId: string; nodeType: string }
  | { type: 'node:progress'; runId: string; nodeId: string; done: number; total: number; preview?: boolean }
  | { type: 'node:done'; runId: string; nodeId: string; nodeType: string; ms: number; ui?: Record<string, unknown> }
  | { type: 'node:log'; runId: string; nodeId: string; level: string; msg: string }
  | { type: 'run:done'; runId: string; outputs: Record<string, Record<string, unknown>>; timings?: { total: number; nodes: Record<string, number> }; executed?: string[]; cached?: string[] }
  | { type: 'run:error'; runId?: string; ref?: string; error: RunErrorInfo }
  | { type: 'run:cancelled'; runId: string; nodeId?: string }
  | { type: 'error'; ref?: string; error: RunErrorInfo }
  | { type: 'pull:progress'; runId: string; progress: PullProgress }
  | { type: 'pull:done'; runId: string; result: { name: string; format: string; alreadyInstalled: boolean } }
  | { type: 'pull:error'; runId: string; error: RunErrorInfo }
  | { type: 'pull:cancelled'; runId: string };

/** Progress of a model pull (server/models/pull/pull.ts PullProgress). */
export interface PullProgress {
  phase: 'resolving' | 'downloading' | 'installing' | 'done';
  file?: string;
  fileIndex: number;
  fileCount: number;
  fileBytes: number;
  fileTotal?: number;
  bytes: number;
  total?: number;
}

export interface SocketHandlers {
  message(msg: ServerMessage): void;
  preview(frame: PreviewFrame): void;
  status?(connected: boolean): void;
}

export class RunSocket {
  private ws?: WebSocket;
  private pending: string[] = [];
  private seq = 0;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly handlers: SocketHandlers,
  ) {
    this.open();
  }

  /** Sends a run request; events follow through the handlers. Returns the request id. */
  run(workflow: unknown, inputs: Record<string, unknown> = {}): string {
    const ref = `r${++this.seq}-${Date.now().toString(36)}`;
    this.send({ type: 'run', ref, workflow, inputs, previews: true });
    return ref;
  }

  /** Follows a run or a model pull (again, after a reconnect); the server replays its final event if it already ended. */
  subscribe(runId: string, previews = true): void {
    this.send({ type: 'subscribe', runId, previews });
  }

  cancel(runId: string): void {
    this.send({ type: 'cancel', runId });
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }

  private send(msg: unknown): void {
    const text = JSON.stringify(msg);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
    else this.pending.push(text);
  }

  private open(): void {
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.handlers.status?.(true);
      for (const m of this.pending.splice(0)) ws.send(m);
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') {
        try {
          this.handlers.message(JSON.parse(e.data) as ServerMessage);
        } catch {
          /* not ours */
        }
      } else {
        const frame = decodePreview(e.data as ArrayBuffer);
        if (frame) this.handlers.preview(frame);
      }
    };
    ws.onclose = () => {
      this.handlers.status?.(false);
      if (!this.closed) setTimeout(() => this.open(), 1000);
    };
  }
}

/** Binary frame type of step previews (server/ws/protocol.ts FRAME_PREVIEW). */
const FRAME_PREVIEW = 1;

/**
 * Binary frame: u32 BE frame type | u32 BE header length N | N bytes of JSON header
 * ({runId, nodeId, step, total, mime, width, height}) | image bytes. Undefined for other frames.
 */
export function decodePreview(buf: ArrayBuffer): PreviewFrame | undefined {
  if (buf.byteLength < 8) return undefined;
  const view = new DataView(buf);
  const len = view.getUint32(4);
  if (view.getUint32(0) !== FRAME_PREVIEW || 8 + len > buf.byteLength) return undefined;
  try {
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, len))) as { runId?: string; nodeId?: string; mime?: string };
    return { runId: header.runId, nodeId: header.nodeId, blob: new Blob([new Uint8Array(buf, 8 + len)], { type: header.mime ?? 'image/jpeg' }) };
  } catch {
    return undefined;
  }
}

export function socketUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}
