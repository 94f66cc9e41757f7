// What a running node may use. The engine fills the generic parts; the worker supplies
// `services` (model store, URL fetcher, ...), whose shape domain modules declare by
// augmenting NodeServices, so the engine stays free of SDXL and HTTP knowledge.

/** Augmented by domain modules: `declare module '../engine/context.js' { interface NodeServices { models: ModelStore } }`. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface NodeServices {}

export interface StoredFile {
  /** Unguessable id; the server serves the file as /v1/files/<id>. */
  id: string;
  filename: string;
  contentType: string;
  size: number;
}

/** Where output files go (local folder embedded; S3-compatible when scaled out). */
export interface FileStore {
  save(data: Uint8Array, opts: { contentType: string; ext: string }): Promise<StoredFile>;
  /** Reads a stored file or an upload by id; undefined when unknown. */
  read(id: string): Promise<{ data: Uint8Array; contentType: string } | undefined>;
  /** Local path of a stored file or upload by id, for readers that stream (safetensors). */
  pathOf(id: string): Promise<string | undefined>;
}

export interface Preview {
  mime: 'image/jpeg' | 'image/png';
  data: Uint8Array;
  width: number;
  height: number;
}

import type { Workflow } from './workflow.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ExecutionContext {
  runId: string;
  nodeId: string;
  nodeType: string;
  /** The resolved workflow being run (save-image embeds it in PNGs). */
  workflow: Workflow;
  /** Aborted when the run is cancelled; long nodes check it between steps. */
  signal: AbortSignal;
  services: NodeServices;
  files: FileStore;
  /** Reports progress of this node; a preview image is streamed to watchers. */
  progress(done: number, total: number, preview?: Preview): void;
  log(level: LogLevel, msg: string, data?: Record<string, unknown>): void;
  /** Throws the engine's cancellation error when the run was cancelled. */
  throwIfCancelled(): void;
}
