// maskflow job records in ComfyUI's shapes: queue items [number, prompt_id, prompt,
// extra_data, outputs_to_execute], history entries {prompt, outputs, status, meta} and the
// `executed` output of a node ({images: [{filename, subfolder, type}]}).
import type { JobRecord } from '../queue/job-store.js';
import type { ComfyFiles } from './files.js';
import type { ComfyPrompt } from './spec.js';
import type { ComfyOutputSpec } from './translate.js';

/** What a ComfyUI job keeps in its params (durably, with the job). */
export interface ComfyJobInfo {
  prompt_id: string;
  number: number;
  prompt: ComfyPrompt;
  extra_data: Record<string, unknown>;
  outputs_to_execute: string[];
  /** maskflow node id -> comfy node id. */
  node_map: Record<string, string>;
  /** maskflow output node id -> how ComfyUI reports its images. */
  outputs: Record<string, ComfyOutputSpec>;
}

export function comfyInfoOf(job: JobRecord): ComfyJobInfo | undefined {
  const c = (job.params as { comfy?: ComfyJobInfo }).comfy;
  return c && typeof c.prompt_id === 'string' ? c : undefined;
}

export type QueueItem = [number, string, ComfyPrompt, Record<string, unknown>, string[]];

export function queueItem(info: ComfyJobInfo): QueueItem {
  return [info.number, info.prompt_id, info.prompt, info.extra_data, info.outputs_to_execute];
}

interface StoredImage {
  filename?: string;
}

/** A maskflow node's ui result as ComfyUI's node output (images named for /view). */
export function nodeOutput(files: ComfyFiles, info: ComfyJobInfo, mfId: string, ui: Record<string, unknown>): Record<string, unknown> {
  const spec = info.outputs[mfId];
  const images = Array.isArray(ui.images) ? (ui.images as StoredImage[]) : undefined;
  if (!images) return ui;
  const prefix = spec?.prefix ?? 'maskflow';
  return {
    images: images.map((img) => ({ ...files.outputName(prefix, String(img.filename ?? '')), type: spec?.kind ?? 'output' })),
  };
}

/** Outputs of a finished job keyed by comfy node id. */
export function historyOutputs(files: ComfyFiles, info: ComfyJobInfo, job: JobRecord): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [mfId, ui] of Object.entries(job.outputs ?? {})) {
    const comfyId = info.node_map[mfId] ?? mfId;
    const o = nodeOutput(files, info, mfId, ui);
    const prev = out[comfyId];
    if (prev && Array.isArray(prev.images) && Array.isArray(o.images)) prev.images = [...prev.images, ...o.images];
    else out[comfyId] = o;
  }
  return out;
}

/** The comfy nodes whose maskflow nodes all came from the cache (no timing recorded). */
export function cachedNodes(info: ComfyJobInfo, job: JobRecord): string[] {
  const ran = new Set(Object.keys(job.timings?.nodes ?? {}).map((mf) => info.node_map[mf] ?? mf));
  return [...new Set(Object.values(info.node_map))].filter((c) => !ran.has(c));
}

/** The message ComfyUI records for a failed or interrupted prompt (execution_error / execution_interrupted data). */
export function failureMessage(info: ComfyJobInfo, job: JobRecord, executed: string[], at?: string): [string, Record<string, unknown>] {
  const e = job.error;
  const mf = e?.nodeId ?? at;
  const nodeId = mf ? (info.node_map[mf] ?? mf) : undefined;
  const nodeType = nodeId ? (info.prompt[nodeId]?.class_type ?? e?.nodeType) : undefined;
  const base = { prompt_id: info.prompt_id, node_id: nodeId ?? null, node_type: nodeType ?? null, executed, timestamp: job.finishedAt ?? Date.now() };
  if (job.status === 'cancelled') return ['execution_interrupted', base];
  return [
    'execution_error',
    {
      ...base,
      exception_message: e?.message ?? 'job failed',
      exception_type: e?.code ?? 'internal',
      traceback: [],
      current_inputs: {},
      current_outputs: {},
    },
  ];
}

export function executedNodes(info: ComfyJobInfo, job: JobRecord): string[] {
  return [...new Set(Object.keys(job.timings?.nodes ?? {}).map((mf) => info.node_map[mf] ?? mf))];
}

/** A history entry for a finished job. */
export function historyEntry(files: ComfyFiles, info: ComfyJobInfo, job: JobRecord) {
  const start = job.startedAt ?? job.createdAt;
  const messages: Array<[string, Record<string, unknown>]> = [['execution_start', { prompt_id: info.prompt_id, timestamp: start }]];
  if (job.status === 'succeeded') {
    messages.push(['execution_cached', { nodes: cachedNodes(info, job), prompt_id: info.prompt_id, timestamp: start }]);
    messages.push(['execution_success', { prompt_id: info.prompt_id, timestamp: job.finishedAt ?? start }]);
  } else {
    messages.push(failureMessage(info, job, executedNodes(info, job)));
  }
  const outputs = job.status === 'succeeded' ? historyOutputs(files, info, job) : {};
  return {
    prompt: queueItem(info),
    outputs,
    status: { status_str: job.status === 'succeeded' ? 'success' : 'error', completed: job.status === 'succeeded', messages },
    meta: Object.fromEntries(Object.keys(outputs).map((id) => [id, { node_id: id, display_node: id, parent_node: null, real_node_id: id }])),
  };
}
