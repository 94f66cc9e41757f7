// The websocket endpoint /ws: run, cancel and subscribe; relays run events of subscribed
// jobs, with step previews as binary frames. The API key is checked on the upgrade.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RunEvent } from '../engine/events.js';
import { ApiKeys, identityOf, keyFromAuthorization, type RateLimiter } from '../auth.js';
import { HttpError } from '../http-errors.js';
import type { JobRecord } from '../queue/job-store.js';
import type { PullEvent, PullJob } from '../models/pull/pull-jobs.js';
import { withFileUrls, type AppDeps } from '../api/context.js';
import { submitJob } from '../api/jobs.js';
import { compileBody } from '../api/validation.js';
import { CLIENT_MESSAGE_SCHEMAS, encodeFrame, FRAME_PREVIEW, PROTOCOL_VERSION, type ClientMessage } from './protocol.js';

/** Above this many buffered bytes a slow client gets no more previews (progress still flows). */
const PREVIEW_BACKPRESSURE_BYTES = 4 * 1024 * 1024;

interface Client {
  ws: WebSocket;
  identity: string;
  base: string;
  /** runId -> whether this client wants previews. */
  subs: Map<string, boolean>;
  cancelOnClose: Set<string>;
}

export interface HubOptions {
  keys: ApiKeys;
  limiter: RateLimiter;
}

function keyFromUpgrade(req: IncomingMessage): string | undefined {
  const fromHeader = keyFromAuthorization(req.headers.authorization);
  if (fromHeader) return fromHeader;
  const url = new URL(req.url ?? '/', 'http://x');
  return url.searchParams.get('api_key') ?? undefined;
}

const FINAL = new Set(['run:done', 'run:error', 'run:cancelled', 'pull:done', 'pull:error', 'pull:cancelled']);

export class WsHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly byRun = new Map<string, Set<Client>>();
  private readonly validators = Object.fromEntries(
    Object.entries(CLIENT_MESSAGE_SCHEMAS).map(([type, schema]) => [type, compileBody<ClientMessage>(schema)]),
  ) as Record<string, (m: unknown) => ClientMessage>;
  private readonly unsubscribeQueue: () => void;
  private readonly unsubscribePulls: () => void;

  constructor(
    private readonly deps: AppDeps,
    private readonly opts: HubOptions,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: deps.config.maxBodyBytes });
    this.unsubscribeQueue = deps.queue.subscribe((e) => this.onRunEvent(e));
    // Model pulls are jobs of their own registry; their pull:* events reach subscribers the same way.
    this.unsubscribePulls = deps.pulls?.subscribe((e) => this.onRunEvent(e)) ?? (() => {});
  }

  /** Routes `upgrade` requests for /ws here; others are refused. `delegate` may take an upgrade first (ComfyUI's /ws?clientId=). */
  attach(server: Server, delegate?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (delegate?.(req, socket, head)) return;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path !== '/ws') return refuse(socket, 404, 'not_found', 'no websocket endpoint here; use /ws');
      const key = keyFromUpgrade(req);
      if (!this.opts.keys.check(key)) return refuse(socket, 401, 'unauthorized', 'an API key is required (Authorization header or ?api_key=)');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, key));
    });
  }

  get connections(): number {
    return this.clients.size;
  }

  close(): void {
    this.unsubscribeQueue();
    this.unsubscribePulls();
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, key: string | undefined): void {
    const proto = (req.headers['x-forwarded-proto'] as string | undefined) === 'https' ? 'https' : 'http';
    const base = this.deps.config.publicUrl?.replace(/\/$/, '') ?? `${proto}://${req.headers.host ?? `${this.deps.config.host}:${this.deps.config.port}`}`;
    const client: Client = {
      ws,
      identity: identityOf(this.opts.keys.enabled ? key : undefined, req.socket.remoteAddress),
      base,
      subs: new Map(),
      cancelOnClose: new Set(),
    };
    this.clients.add(client);
    this.send(client, { type: 'hello', protocol: PROTOCOL_VERSION, version: this.deps.versions.maskflow });
    ws.on('message', (data, isBinary) => {
      void this.onMessage(client, data as Buffer, isBinary).catch((err: unknown) => this.sendError(client, err, undefined));
    });
    ws.on('close', () => this.onClose(client));
    ws.on('error', () => ws.terminate());
  }

  private async onMessage(client: Client, data: Buffer, isBinary: boolean): Promise<void> {
    let raw: unknown;
    try {
      if (isBinary) throw new Error('binary messages are not accepted');
      raw = JSON.parse(data.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, 'invalid_message', `messages must be JSON text: ${(err as Error).message}`);
    }
    const ref = raw && typeof raw === 'object' && typeof (raw as { ref?: unknown }).ref === 'string' ? (raw as { ref: string }).ref : undefined;
    try {
      const type = (raw as { type?: unknown } | null)?.type;
      const validate = typeof type === 'string' && Object.hasOwn(this.validators, type) ? this.validators[type] : undefined;
      if (!validate) throw new HttpError(400, 'unknown_message', `message type must be one of ${Object.keys(this.validators).join(', ')}`, 'type');
      const msg = validate(raw);
      await this.handle(client, msg);
    } catch (err) {
      this.sendError(client, err, ref);
    }
  }

  private async handle(client: Client, msg: ClientMessage): Promise<void> {
    switch (msg.type) {
      case 'ping':
        this.send(client, { type: 'pong', ...(msg.ref ? { ref: msg.ref } : {}) });
        return;
      case 'run': {
        const wait = this.opts.limiter.take(client.identity);
        if (wait > 0) throw new HttpError(429, 'rate_limited', `too many requests; retry in ${wait} s`);
        let workflow = msg.workflow;
        if (msg.name !== undefined) {
          if (workflow !== undefined) throw new HttpError(422, 'invalid_value', 'give either name or workflow, not both', 'workflow');
          const found = await this.deps.workflows.get(msg.name);
          if (!found) throw new HttpError(404, 'not_found', `workflow "${msg.name}" not found`, 'name');
          workflow = found.workflow;
        }
        if (workflow === undefined) throw new HttpError(422, 'missing_parameter', 'run needs a workflow name or an inline workflow', 'workflow');
        const inputs = msg.inputs ?? {};
        const { job } = submitJob(this.deps, {
          kind: 'run',
          workflow,
          workflowName: msg.name,
          inputs,
          params: { ...(msg.name ? { workflow: msg.name } : {}), inputs, via: 'ws' },
          priority: msg.priority,
          owner: client.identity,
          seed: typeof inputs.seed === 'number' ? inputs.seed : undefined,
          model: typeof inputs.model === 'string' ? inputs.model : undefined,
        });
        this.addSub(client, job.id, msg.previews !== false);
        if (msg.cancel_on_disconnect) client.cancelOnClose.add(job.id);
        this.send(client, { type: 'run:queued', runId: job.id, position: this.deps.queue.position(job.id) ?? 0, ...(msg.ref ? { ref: msg.ref } : {}) });
        return;
      }
      case 'cancel': {
        let result: string = this.deps.queue.cancel(msg.runId);
        if (result === 'unknown' && this.deps.pulls) result = this.deps.pulls.cancel(msg.runId);
        if (result === 'unknown') throw new HttpError(404, 'not_found', `run "${msg.runId}" not found`, 'runId');
        this.send(client, { type: 'cancel:ok', runId: msg.runId, result, ...(msg.ref ? { ref: msg.ref } : {}) });
        return;
      }
      case 'subscribe': {
        const job = this.deps.queue.get(msg.runId);
        const pull = job ? undefined : this.deps.pulls?.get(msg.runId);
        if (pull) return this.subscribePull(client, pull, msg.ref);
        if (!job) throw new HttpError(404, 'not_found', `run "${msg.runId}" not found`, 'runId');
        this.send(client, {
          type: 'subscribed',
          runId: job.id,
          status: job.status,
          ...(job.status === 'queued' ? { position: this.deps.queue.position(job.id) ?? 0 } : {}),
          ...(job.status === 'running' ? { progress: this.deps.queue.progress(job.id) } : {}),
          ...(msg.ref ? { ref: msg.ref } : {}),
        });
        if (job.status === 'queued' || job.status === 'running') this.addSub(client, job.id, msg.previews !== false);
        else this.send(client, this.finalEventOf(job, client.base));
        return;
      }
      case 'unsubscribe':
        this.removeSub(client, msg.runId);
        this.send(client, { type: 'unsubscribed', runId: msg.runId, ...(msg.ref ? { ref: msg.ref } : {}) });
        return;
    }
  }

  private subscribePull(client: Client, pull: PullJob, ref: string | undefined): void {
    this.send(client, { type: 'subscribed', runId: pull.id, kind: 'pull', status: pull.status, ...(pull.progress ? { progress: pull.progress } : {}), ...(ref ? { ref } : {}) });
    if (pull.status === 'queued' || pull.status === 'running') this.addSub(client, pull.id, false);
    else if (pull.status === 'succeeded') this.send(client, { type: 'pull:done', runId: pull.id, result: pull.result });
    else if (pull.status === 'failed') this.send(client, { type: 'pull:error', runId: pull.id, error: pull.error });
    else this.send(client, { type: 'pull:cancelled', runId: pull.id });
  }

  /** The final event of a finished job, as a late subscriber sees it. */
  private finalEventOf(job: JobRecord, base: string): object {
    if (job.status === 'succeeded') return { type: 'run:done', runId: job.id, outputs: withFileUrls(job.outputs, base), timings: job.timings };
    if (job.status === 'failed') return { type: 'run:error', runId: job.id, error: job.error };
    return { type: 'run:cancelled', runId: job.id };
  }

  private onRunEvent(e: RunEvent | PullEvent): void {
    const subs = this.byRun.get(e.runId);
    if (!subs?.size) return;
    if (e.type === 'run:queued') return; // subscribers got it as the reply to `run`
    for (const c of subs) {
      if (e.type === 'node:progress' && e.preview) {
        const { preview, ...rest } = e;
        this.send(c, { ...rest, preview: true });
        if (c.subs.get(e.runId) && c.ws.bufferedAmount < PREVIEW_BACKPRESSURE_BYTES) {
          const header = { runId: e.runId, nodeId: e.nodeId, step: e.done, total: e.total, mime: preview.mime, width: preview.width, height: preview.height };
          c.ws.send(encodeFrame(FRAME_PREVIEW, header, preview.data), { binary: true });
        }
      } else if (e.type === 'run:done') {
        this.send(c, { ...e, outputs: withFileUrls(e.outputs, c.base) });
      } else {
        this.send(c, e);
      }
    }
    if (FINAL.has(e.type)) {
      for (const c of subs) {
        c.subs.delete(e.runId);
        c.cancelOnClose.delete(e.runId);
      }
      this.byRun.delete(e.runId);
    }
  }

  private addSub(client: Client, runId: string, previews: boolean): void {
    client.subs.set(runId, previews);
    const set = this.byRun.get(runId) ?? new Set<Client>();
    set.add(client);
    this.byRun.set(runId, set);
  }

  private removeSub(client: Client, runId: string): void {
    client.subs.delete(runId);
    const set = this.byRun.get(runId);
    set?.delete(client);
    if (set && !set.size) this.byRun.delete(runId);
  }

  private onClose(client: Client): void {
    this.clients.delete(client);
    for (const runId of client.cancelOnClose) this.deps.queue.cancel(runId);
    for (const runId of [...client.subs.keys()]) this.removeSub(client, runId);
  }

  private send(client: Client, msg: object): void {
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(JSON.stringify(msg));
  }

  private sendError(client: Client, err: unknown, ref: string | undefined): void {
    const e = err instanceof HttpError ? err.body() : { code: 'internal', message: 'internal error' };
    if (!(err instanceof HttpError)) this.deps.logger.error({ err }, 'websocket message failed');
    this.send(client, { type: 'error', error: e, ...(ref ? { ref } : {}) });
  }
}

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 401 ? 'Unauthorized' : 'Not Found';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
