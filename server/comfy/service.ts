// The ComfyUI layer's state and operations: prompts become maskflow jobs on the same durable
// queue (their ComfyUI identity stored with the job and indexed in PromptStore), and the
// queue and finished jobs are read back in ComfyUI's shapes.
import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AppDeps } from '../api/context.js';
import { limitProblems, submitJob } from '../api/jobs.js';
import { HttpError } from '../http-errors.js';
import { catalogFor, type ModelCatalog } from '../models/catalog.js';
import type { JobRecord } from '../queue/job-store.js';
import { ComfyFiles } from './files.js';
import { comfyInfoOf, historyEntry, queueItem, type ComfyJobInfo, type QueueItem } from './history.js';
import { PromptStore, type PromptRow } from './prompt-store.js';
import type { ComfyEnv } from './spec.js';
import { translatePrompt } from './translate.js';

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Files under a folder with one of the extensions, as ComfyUI lists them (relative, '/').
 * Symlinks are followed (a models folder may link into a shared store). `folders` also lists
 * subfolders that hold a model themselves (diffusers ControlNets: a config.json inside).
 */
async function listFiles(root: string, ext: RegExp, depth = 4, rel = '', folders = false): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(path.join(root, rel));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (n.startsWith('.')) continue;
    const r = rel ? `${rel}/${n}` : n;
    const st = await stat(path.join(root, r)).catch(() => undefined);
    if (st?.isDirectory()) {
      if (folders && (await stat(path.join(root, r, 'config.json')).catch(() => undefined))) out.push(r);
      else if (depth > 0) out.push(...(await listFiles(root, ext, depth - 1, r, folders)));
    } else if (st?.isFile() && ext.test(n)) out.push(r);
  }
  return out.sort();
}

/** ComfyUI's SaveImage metadata: "prompt", then each extra_pnginfo entry, as JSON (keywords a PNG can hold). */
function pngInfo(prompt: unknown, extra: unknown): Record<string, string> {
  const out: Record<string, string> = { prompt: JSON.stringify(prompt) };
  if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
    for (const [k, v] of Object.entries(extra)) if (/^[\x20-\x7e]{1,79}$/.test(k) && v !== undefined) out[k] = JSON.stringify(v);
  }
  return out;
}

export interface SubmitBody {
  prompt?: unknown;
  client_id?: unknown;
  extra_data?: unknown;
  front?: unknown;
  number?: unknown;
  prompt_id?: unknown;
}

export class ComfyService {
  readonly store: PromptStore;
  readonly files: ComfyFiles;
  private readonly catalog: ModelCatalog;
  private number: number;

  constructor(private readonly deps: AppDeps) {
    const root = path.join(deps.config.dataDir, 'comfy');
    this.store = new PromptStore(path.join(root, 'prompts.sqlite'));
    this.files = new ComfyFiles(root, deps.files, deps.config, deps.uploadIndex);
    this.catalog = catalogFor(deps.config);
    this.number = this.store.nextNumber();
  }

  close(): void {
    this.store.close();
  }

  checkpoints(): string[] {
    return this.catalog.names();
  }

  loras(): Promise<string[]> {
    return listFiles(path.join(this.deps.config.modelsDir, 'loras'), /\.safetensors$/i);
  }

  /** ControlNets: diffusers folders and .safetensors files in models/controlnet. */
  controlnets(): Promise<string[]> {
    return listFiles(path.join(this.deps.config.modelsDir, 'controlnet'), /\.safetensors$/i, 4, '', true);
  }

  async embeddings(): Promise<string[]> {
    return (await listFiles(path.join(this.deps.config.modelsDir, 'embeddings'), /\.(safetensors|pt|bin)$/i)).map((f) => f.replace(/\.[^.]+$/, ''));
  }

  /** A snapshot of what prompts may name (models, LoRAs, input files). */
  async env(): Promise<ComfyEnv> {
    const [loras, controlnets, inputs] = await Promise.all([this.loras(), this.controlnets(), this.files.listInputs()]);
    const checkpoints = this.checkpoints();
    return { checkpoints: () => checkpoints, loras: () => loras, controlnets: () => controlnets, inputImages: () => inputs, importInput: (name) => this.files.importInput(name) };
  }

  /** POST /prompt: validate, translate, store durably and queue; answers ComfyUI's {prompt_id, number, node_errors}. */
  async submit(body: SubmitBody, owner: string | undefined) {
    if (body.prompt === undefined) throw new HttpError(400, 'no_prompt', 'no prompt', 'prompt');
    const extra = body.extra_data && typeof body.extra_data === 'object' && !Array.isArray(body.extra_data) ? { ...(body.extra_data as Record<string, unknown>) } : {};
    if (typeof body.client_id === 'string') extra.client_id = body.client_id;
    let promptId: string = randomUUID();
    if (body.prompt_id !== undefined) {
      if (typeof body.prompt_id !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(body.prompt_id)) throw new HttpError(400, 'invalid_prompt_id', 'prompt_id must be 1-100 letters, digits, - or _', 'prompt_id');
      if (this.store.byPrompt(body.prompt_id)) throw new HttpError(400, 'duplicate_prompt_id', `prompt_id "${body.prompt_id}" was already used`, 'prompt_id');
      promptId = body.prompt_id;
    }
    const env = { ...(await this.env()), pngInfo: () => pngInfo(body.prompt, extra.extra_pnginfo) };
    const translation = await translatePrompt(body.prompt, this.deps.registry, env, {
      maxNodes: this.deps.config.maxWorkflowNodes,
      limits: (wf) => limitProblems(wf, this.deps.config),
    });
    // ComfyUI: an explicit number is used as given; otherwise the counter (negated for front).
    let number: number;
    if (body.number !== undefined && Number.isFinite(Number(body.number))) number = Number(body.number);
    else {
      number = body.front === true ? -this.number : this.number;
      this.number++;
    }
    const info: ComfyJobInfo = {
      prompt_id: promptId,
      number,
      prompt: body.prompt as ComfyJobInfo['prompt'],
      extra_data: extra,
      outputs_to_execute: translation.outputsToExecute,
      node_map: translation.nodeMap,
      outputs: translation.outputs,
    };
    const seed = Object.values(translation.workflow.nodes).find((n) => n.type === 'sampling/denoise')?.params?.seed;
    const model = Object.values(translation.workflow.nodes).find((n) => n.type === 'models/load-model')?.params?.model;
    const { job } = submitJob(this.deps, {
      kind: 'run',
      workflow: translation.workflow,
      inputs: {},
      params: { via: 'comfyui', comfy: info },
      priority: body.front === true ? 1 : 0,
      owner,
      seed: typeof seed === 'number' ? seed : undefined,
      model: typeof model === 'string' ? model : undefined,
    });
    this.store.insert({ promptId, jobId: job.id, number, clientId: typeof extra.client_id === 'string' ? extra.client_id : undefined, owner });
    return { prompt_id: promptId, number, node_errors: {} };
  }

  /** Whether a caller sees a prompt: with API keys, only its own. */
  private visibleTo(row: { owner?: string }, owner: string | undefined): boolean {
    return !this.deps.config.apiKeys.length || row.owner === owner;
  }

  /** Comfy jobs running and waiting, in run order. */
  active(owner?: string): Array<{ job: JobRecord; info: ComfyJobInfo }> {
    const out: Array<{ job: JobRecord; info: ComfyJobInfo }> = [];
    for (const job of this.deps.queue.active()) {
      const info = comfyInfoOf(job);
      if (info && (owner === undefined || this.visibleTo(job, owner))) out.push({ job, info });
    }
    return out;
  }

  queue(owner: string | undefined): { queue_running: QueueItem[]; queue_pending: QueueItem[] } {
    const active = this.active(owner);
    return {
      queue_running: active.filter((a) => a.job.status === 'running').map((a) => queueItem(a.info)),
      queue_pending: active.filter((a) => a.job.status !== 'running').map((a) => queueItem(a.info)),
    };
  }

  queueRemaining(): number {
    return this.active().length;
  }

  /** A row's job when it belongs in /history: finished, and not a prompt deleted before it ran. */
  private finished(row: PromptRow): { job: JobRecord; info: ComfyJobInfo } | undefined {
    const job = this.deps.queue.get(row.jobId);
    const info = job && comfyInfoOf(job);
    if (!job || !info || !FINAL.has(job.status)) return undefined;
    if (job.status === 'cancelled' && job.startedAt === undefined) return undefined;
    return { job, info };
  }

  history(owner: string | undefined, maxItems?: number, offset?: number): Record<string, unknown> {
    const rows = this.store.visible().filter((r) => this.visibleTo(r, owner));
    const done = rows.map((r) => this.finished(r)).filter((x): x is NonNullable<typeof x> => x !== undefined);
    let start = offset !== undefined && offset >= 0 ? offset : maxItems !== undefined ? Math.max(0, done.length - maxItems) : 0;
    start = Math.min(start, done.length);
    const slice = done.slice(start, maxItems !== undefined ? start + maxItems : undefined);
    return Object.fromEntries(slice.map(({ job, info }) => [info.prompt_id, historyEntry(this.files, info, job)]));
  }

  historyOf(promptId: string, owner: string | undefined): Record<string, unknown> {
    const row = this.store.byPrompt(promptId);
    if (!row || row.hidden || !this.visibleTo(row, owner)) return {};
    const f = this.finished(row);
    return f ? { [promptId]: historyEntry(this.files, f.info, f.job) } : {};
  }

  /** POST /queue {delete}: removes waiting prompts (a running one keeps running, as in ComfyUI). */
  deleteQueued(promptIds: string[], owner: string | undefined): void {
    for (const id of promptIds) {
      const row = this.store.byPrompt(String(id));
      if (!row || !this.visibleTo(row, owner)) continue;
      if (this.deps.queue.get(row.jobId)?.status === 'queued') this.deps.queue.cancel(row.jobId);
    }
  }

  clearQueue(owner: string | undefined): void {
    for (const { job } of this.active(owner)) if (job.status === 'queued') this.deps.queue.cancel(job.id);
  }

  deleteHistory(promptIds: string[], owner: string | undefined): void {
    for (const id of promptIds) {
      const row = this.store.byPrompt(String(id));
      if (row && this.visibleTo(row, owner) && this.finished(row)) this.store.hide(row.promptId);
    }
  }

  clearHistory(owner: string | undefined): void {
    for (const row of this.store.visible()) if (this.visibleTo(row, owner) && this.finished(row)) this.store.hide(row.promptId);
  }

  /** POST /interrupt: the given running prompt, or every running ComfyUI prompt of the caller. */
  interrupt(promptId: string | undefined, owner: string | undefined): void {
    for (const { job, info } of this.active(owner)) {
      if (job.status === 'running' && (promptId === undefined || info.prompt_id === promptId)) this.deps.queue.cancel(job.id);
    }
  }
}
