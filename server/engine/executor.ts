// Runs a validated workflow: plan, then each node in order, reusing cached outputs
// whose input signature is unchanged. Cancellation is checked between nodes and
// inside long nodes through ctx.signal.
import type { ExecutionContext, FileStore, LogLevel, NodeServices } from './context.js';
import { CancelledError, NodeError, toRunErrorInfo } from './errors.js';
import type { RunEvent, RunOutputs, RunTimings } from './events.js';
import { nodeCacheKey, type OutputCache } from './cache.js';
import type { NodeResult } from './node.js';
import { planExecution } from './plan.js';
import type { NodeRegistry } from './registry.js';
import type { Workflow } from './workflow.js';

export interface ExecutorDeps {
  registry: NodeRegistry;
  cache: OutputCache;
  services: NodeServices;
  files: FileStore;
  log?: (level: LogLevel, msg: string, data?: Record<string, unknown>) => void;
}

export interface RunOptions {
  runId: string;
  signal?: AbortSignal;
  emit?: (event: RunEvent) => void;
}

export interface RunResult {
  outputs: RunOutputs;
  timings: RunTimings;
  executed: string[];
  cached: string[];
}

export class Executor {
  constructor(private readonly deps: ExecutorDeps) {}

  /**
   * Executes a workflow already checked by validateWorkflow() (its `resolved` form, with
   * defaults filled in). Emits events and resolves with the output nodes' results; rejects
   * with CancelledError or an error carrying the node id (see runError()).
   */
  async run(wf: Workflow, opts: RunOptions): Promise<RunResult> {
    const { registry, cache } = this.deps;
    const emit = opts.emit ?? (() => {});
    const signal = opts.signal ?? new AbortController().signal;
    const order = planExecution(wf, registry);
    const started = performance.now();
    emit({ type: 'run:start', runId: opts.runId, nodes: order });

    const values = new Map<string, Record<string, unknown>>();
    const keys = new Map<string, string>();
    const outputs: RunOutputs = {};
    const timings: RunTimings = { nodes: {}, total: 0 };
    const executed: string[] = [];
    const cached: string[] = [];

    for (const nodeId of order) {
      const node = wf.nodes[nodeId]!;
      const def = registry.get(node.type)!;
      const params = node.params ?? {};
      if (signal.aborted) throw new RunFailure(new CancelledError(), nodeId, node.type);
      const ctx = this.context(wf, opts.runId, nodeId, node.type, signal, emit);

      let key: string;
      const inputs: Record<string, unknown> = {};
      const inputKeys: Record<string, { key: string; output: string }> = {};
      for (const [name, [src, out]] of Object.entries(node.inputs ?? {})) {
        inputs[name] = values.get(src)![out];
        inputKeys[name] = { key: keys.get(src)!, output: out };
      }
      try {
        const fingerprint =
          def.cache === false ? `uncached:${opts.runId}` : def.fingerprint ? await def.fingerprint(params, ctx) : undefined;
        key = nodeCacheKey({ type: node.type, params, inputs: inputKeys, fingerprint });
      } catch (err) {
        throw new RunFailure(signal.aborted ? new CancelledError() : err, nodeId, node.type);
      }
      keys.set(nodeId, key);

      const hit = def.cache === false ? undefined : cache.get(key);
      if (hit) {
        values.set(nodeId, hit);
        cached.push(nodeId);
        if (def.output && hit.ui) outputs[nodeId] = hit.ui as NodeResult;
        emit({ type: 'node:cached', runId: opts.runId, nodeId, nodeType: node.type });
        continue;
      }

      emit({ type: 'node:start', runId: opts.runId, nodeId, nodeType: node.type });
      const t0 = performance.now();
      let result: Record<string, unknown>;
      try {
        result = (await def.execute(inputs, params, ctx)) as Record<string, unknown>;
        if (signal.aborted) throw new CancelledError();
        for (const name of Object.keys(def.outputs)) {
          if (!(name in result)) throw new NodeError('node_bad_output', `node did not produce its output "${name}"`);
        }
      } catch (err) {
        throw new RunFailure(signal.aborted ? new CancelledError() : err, nodeId, node.type);
      }
      const ms = performance.now() - t0;
      timings.nodes[nodeId] = ms;
      executed.push(nodeId);
      values.set(nodeId, result);
      if (def.cache !== false) cache.set(key, result);
      const ui = result.ui as NodeResult | undefined;
      if (def.output && ui) outputs[nodeId] = ui;
      emit({ type: 'node:done', runId: opts.runId, nodeId, nodeType: node.type, ms, ...(ui ? { ui } : {}) });
    }
    timings.total = performance.now() - started;
    return { outputs, timings, executed, cached };
  }

  private context(
    workflow: Workflow,
    runId: string,
    nodeId: string,
    nodeType: string,
    signal: AbortSignal,
    emit: (e: RunEvent) => void,
  ): ExecutionContext {
    const log = this.deps.log;
    return {
      runId,
      nodeId,
      nodeType,
      workflow,
      signal,
      services: this.deps.services,
      files: this.deps.files,
      progress: (done, total, preview) =>
        emit({ type: 'node:progress', runId, nodeId, done, total, ...(preview ? { preview } : {}) }),
      log: (level, msg, data) => {
        log?.(level, msg, { runId, nodeId, nodeType, ...data });
        emit({ type: 'node:log', runId, nodeId, level, msg, ...(data ? { data } : {}) });
      },
      throwIfCancelled: () => {
        if (signal.aborted) throw new CancelledError();
      },
    };
  }
}

/** A failure inside a run, tied to the node where it happened. */
export class RunFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly nodeId: string,
    readonly nodeType: string,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'RunFailure';
  }

  get cancelled(): boolean {
    return this.cause instanceof CancelledError;
  }

  info() {
    return toRunErrorInfo(this.cause, this.nodeId, this.nodeType);
  }
}
