// REST calls the editor makes. Errors carry the server's {error: {code, message, problems?}}.
import type { Catalogue, Problem, Workflow } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface WorkflowSummary {
  name: string;
  builtin: boolean;
  description?: string;
  inputs: string[];
}

export interface InstalledModel {
  name: string;
  format: 'onnx' | 'diffusers' | 'checkpoint';
  kind?: 'inpaint' | 'base' | 'refiner';
  size: number;
  compiled: boolean;
  complete: boolean;
  source?: { type: 'hub'; repo: string; commit: string } | { type: 'url'; url: string };
}

export interface PullJobView {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  shared?: boolean;
  error?: { code: string; message: string };
}

export interface Health {
  status: string;
  models: { name: string; complete: boolean; kind?: string; format?: string; error?: string }[];
  default_model: string | null;
}

async function call<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body instanceof Blob) {
    init.body = body;
    (init.headers as Record<string, string>)['Content-Type'] ||= body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, init);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string; problems?: Problem[] } } | undefined)?.error;
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? (text || res.statusText), err?.problems ?? []);
  }
  return json as T;
}

export const api = {
  catalogue: () => call<Catalogue>('GET', '/v1/nodes'),
  health: () => call<Health>('GET', '/health'),
  listWorkflows: async () => (await call<{ workflows: WorkflowSummary[] }>('GET', '/v1/workflows')).workflows,
  getWorkflow: (name: string) => call<Workflow>('GET', `/v1/workflows/${encodeURIComponent(name)}`),
  saveWorkflow: (name: string, wf: Workflow) => call<{ name: string; saved: boolean }>('PUT', `/v1/workflows/${encodeURIComponent(name)}`, wf),
  deleteWorkflow: (name: string) => call<void>('DELETE', `/v1/workflows/${encodeURIComponent(name)}`),
  listModels: async () => (await call<{ models: InstalledModel[] }>('GET', '/v1/models')).models,
  pullModel: (body: { source: string; name?: string; file?: string }) => call<PullJobView>('POST', '/v1/models/pull', body),
  getPull: (id: string) => call<PullJobView>('GET', `/v1/models/pulls/${encodeURIComponent(id)}`),
  cancelPull: (id: string) => call<unknown>('POST', `/v1/models/pulls/${encodeURIComponent(id)}/cancel`),
  deleteModel: (name: string) => call<unknown>('DELETE', `/v1/models/${encodeURIComponent(name)}`),
  /** A ComfyUI workflow file (UI/API JSON or PNG) translated by the server; untranslated nodes listed with their reason. */
  importComfy: (file: Blob) =>
    call<{ format: string; workflow: Workflow; untranslated: { id: string; class_type: string; reason: string }[] }>('POST', '/v1/comfy/import', file, {
      'Content-Type': 'application/octet-stream',
    }),
  /** Uploads a file; `url` is `/v1/files/<id>`, which load-image and load-mask read from the file store (an absolute URL to this server would be refused as loopback). */
  upload: async (file: Blob) => {
    const res = await call<{ id: string; url: string }>('POST', '/v1/uploads', file);
    return { id: res.id, url: `/v1/files/${res.id}` };
  },
};

/** A URL the browser can load for a param value (`upload:<id>` is the server's short form of `/v1/files/<id>`). */
export function browserUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value) return undefined;
  if (value.startsWith('upload:')) return `/v1/files/${value.slice('upload:'.length)}`;
  return /^(\/|https?:|data:image\/|blob:)/.test(value) ? value : undefined;
}
