// A small OpenAI-compatible chat-completions server on 127.0.0.1 for tests: a real HTTP
// server whose behaviour each test sets (answer, delay, status, raw body).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeReply {
  status?: number;
  /** Answer text put in choices[0].message.content. */
  content?: string;
  /** Raw body instead of a well-formed completion. */
  raw?: string;
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  reply: FakeReply | ((req: RecordedRequest) => FakeReply) = { content: 'ok' };
  private server = http.createServer((req, res) => void this.handle(req, res));
  private sockets = new Set<import('node:net').Socket>();
  url = '';

  async start(): Promise<this> {
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = undefined;
    }
    const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
    this.requests.push(rec);
    const r = typeof this.reply === 'function' ? this.reply(rec) : this.reply;
    if (r.delayMs) await new Promise((ok) => setTimeout(ok, r.delayMs));
    if (res.destroyed) return;
    const payload =
      r.raw ??
      JSON.stringify({
        id: 'chatcmpl-test',
        object: 'chat.completion',
        model: (body as { model?: string })?.model ?? 'x',
        choices: [{ index: 0, message: { role: 'assistant', content: r.content ?? '' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
    res.writeHead(r.status ?? 200, { 'content-type': 'application/json' });
    res.end(payload);
  }
}
