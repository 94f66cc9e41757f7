// What the routes share: dependencies, URL building, and turning stored outputs into URLs.
import type { Request } from 'express';
import type { Config } from '../config.js';
import type { NodeRegistry } from '../engine/registry.js';
import type { RunOutputs } from '../engine/events.js';
import type { Resolver } from '../image/fetch.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { JobRecord } from '../queue/job-store.js';
import type { ModelCatalog } from '../models/catalog.js';
import type { PullJobs } from '../models/pull/pull-jobs.js';
import { FILE_ID, type LocalFileStore } from '../storage/local-file-store.js';
import type { WorkflowStore } from './workflow-store.js';

export interface WorkerInfo {
  state: string;
  restarts: number;
  runId?: string;
  /** Scale-out workers: their id, slots (execution threads) and the runs they execute. */
  id?: string;
  slots?: number;
  runs?: string[];
  host?: string;
  /** ms since epoch of the worker's last heartbeat. */
  lastHeartbeat?: number;
}

export interface HealthSource {
  workers(): WorkerInfo[];
  /** Model folders found (cached; never blocks). */
  models(): Array<{ name: string; complete: boolean; kind?: string; format?: string; error?: string }>;
  executionProvider(): string;
  /** Other facts for /health (safety checker, prompt expander), refreshed in the background. */
  extras?(): Record<string, unknown>;
}

export interface AppDeps {
  config: Config;
  registry: NodeRegistry;
  queue: JobQueue;
  files: LocalFileStore;
  workflows: WorkflowStore;
  logger: Logger;
  metrics: Metrics;
  health: HealthSource;
  versions: Record<string, string>;
  /** The workflow behind /v1/inpaint (default: the built-in sdxl-inpaint). */
  inpaintWorkflowName?: string;
  /** Base URL for links built without a request (webhooks); set once listening. */
  publicUrl?: () => string;
  /** Records content hashes of a new job's model and LoRA files (in the background). */
  recordHashes?: (job: JobRecord) => void;
  /** Content-hash index of uploads made from data URIs (the job store). */
  uploadIndex?: { uploadByHash(sha256: string): string | undefined; putUploadHash(sha256: string, id: string): void };
  /** DNS resolver for URL checks (tests inject one). */
  resolve?: Resolver;
  /** Model pulls started through the API (POST /v1/models/pull). */
  pulls?: PullJobs;
  /** The model catalogue GET /v1/models builds on (default: a fresh one over modelsDir). */
  catalog?: Pick<ModelCatalog, 'list' | 'removeCompiled'>;
  /** Models were installed or deleted: refresh cached listings. */
  onModelsChanged?: () => void;
  /** Static editor build to serve at / (optional). */
  staticDir?: string;
  startedAt?: number;
}

export function baseUrl(deps: AppDeps, req?: Request): string {
  if (deps.config.publicUrl) return deps.config.publicUrl.replace(/\/$/, '');
  if (req?.headers.host) return `${req.protocol}://${req.headers.host}`;
  return deps.publicUrl?.() ?? `http://${deps.config.host}:${deps.config.port}`;
}

export const fileUrl = (base: string, id: string) => `${base}/v1/files/${id}`;


/** Deep copy of run outputs where every stored-file record ({id, filename|contentType}) gains a url. */
export function withFileUrls(outputs: RunOutputs | undefined, base: string): RunOutputs {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      if (typeof o.id === 'string' && FILE_ID.test(o.id) && ('filename' in o || 'contentType' in o || 'content_type' in o) && !('url' in o)) {
        o.url = fileUrl(base, o.id);
      }
      return o;
    }
    return v;
  };
  return walk(outputs ?? {}) as RunOutputs;
}
