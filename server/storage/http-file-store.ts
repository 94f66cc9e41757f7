// The FileStore of a scale-out worker: the API node stays the file server. Uploads are read
// from its /v1/files/<id>, outputs are stored through its internal endpoint, so output ids
// and URLs are the ones the API node serves. Files needed as local paths (LoRA uploads) are
// cached under the worker's own data dir.
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FileStore, StoredFile } from '../engine/context.js';
import { NodeError } from '../engine/errors.js';
import { INTERNAL_FILES_PATH } from '../queue/remote-protocol.js';
import { FILE_ID } from './local-file-store.js';

/**
 * `worker_unauthorized` (the API node refuses this worker's key) and `file_server_unreachable`
 * are the worker's own condition: the job goes to another worker. `file_server_error` is not.
 */
export type FileServerErrorCode = 'worker_unauthorized' | 'file_server_unreachable' | 'file_server_error';

export class FileServerError extends NodeError {
  constructor(code: FileServerErrorCode, message: string, status?: number) {
    super(code, message, status !== undefined ? { status } : {});
    this.name = 'FileServerError';
  }
}

/** The message for a key the API node refuses: which variable, which URL, what status. */
export const refusedKeyMessage = (baseUrl: string, status: number, body: string) =>
  `the API node at ${baseUrl} refuses this worker's key (MASKFLOW_SERVER_KEY): HTTP ${status} ${body}`.trim();

export interface HttpFileStoreOptions {
  /** API key for the API node (when it has keys). */
  apiKey?: string;
  /** Local cache for pathOf(). */
  cacheDir: string;
  timeoutMs: number;
  /** Waits between attempts while the API node is unreachable (default about 30 s in all). */
  retryDelaysMs?: number[];
}

const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 15000];
const RETRY_STATUS = new Set([502, 503, 504]);

export class HttpFileStore implements FileStore {
  constructor(
    private readonly baseUrl: string,
    private readonly opts: HttpFileStoreOptions,
  ) {}

  async save(data: Uint8Array, opts: { contentType: string; ext: string }): Promise<StoredFile> {
    const url = `${this.baseUrl}${INTERNAL_FILES_PATH}?ext=${encodeURIComponent(opts.ext)}`;
    const res = await this.request(url, { method: 'POST', body: data, headers: { 'content-type': opts.contentType } });
    if (res.status === 401 || res.status === 403) throw new FileServerError('worker_unauthorized', refusedKeyMessage(this.baseUrl, res.status, await res.text()), res.status);
    if (res.status !== 201) throw new FileServerError('file_server_error', `storing an output on ${this.baseUrl} failed: HTTP ${res.status} ${await res.text()}`, res.status);
    return (await res.json()) as StoredFile;
  }

  async read(id: string): Promise<{ data: Uint8Array; contentType: string } | undefined> {
    if (!FILE_ID.test(id)) return undefined;
    const res = await this.request(`${this.baseUrl}/v1/files/${id}`, { method: 'GET' });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new FileServerError('file_server_error', `reading file ${id} from ${this.baseUrl} failed: HTTP ${res.status}`, res.status);
    return { data: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  async pathOf(id: string): Promise<string | undefined> {
    if (!FILE_ID.test(id)) return undefined;
    const file = path.join(this.opts.cacheDir, id);
    try {
      await stat(file);
      return file; // ids are immutable: a cached copy stays valid
    } catch {
      /* not cached yet */
    }
    const got = await this.read(id);
    if (!got) return undefined;
    await mkdir(this.opts.cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, got.data);
    await rename(tmp, file);
    return file;
  }

  /** Retries while the API node is unreachable or restarting, so a job outlives a short API outage. */
  private async request(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.opts.apiKey) headers.set('authorization', `Bearer ${this.opts.apiKey}`);
    const delays = this.opts.retryDelaysMs ?? RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      try {
        const res = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(this.opts.timeoutMs) });
        if (!RETRY_STATUS.has(res.status)) return res;
        failure = `HTTP ${res.status}`;
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
      if (attempt >= delays.length) throw new FileServerError('file_server_unreachable', `the API node at ${this.baseUrl} is unreachable: ${failure}`);
      await new Promise((r) => setTimeout(r, delays[attempt]));
    }
  }
}
