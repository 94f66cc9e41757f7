// Executes jobs inside a worker: validate, run, turn the outcome into a final event.
// Shared by the worker_threads entry and the scale-out worker process.
import type { Config } from '../config.js';
import { OutputCache } from '../engine/cache.js';
import { CancelledError } from '../engine/errors.js';
import type { RunEvent } from '../engine/events.js';
import { Executor, RunFailure } from '../engine/executor.js';
import { loadNodes, NODES_DIR } from '../engine/loader.js';
import type { NodeRegistry } from '../engine/registry.js';
import { validateWorkflow } from '../engine/validate.js';
import type { Logger } from '../log.js';
import type { FileStore } from '../engine/context.js';
import { HttpFileStore } from '../storage/http-file-store.js';
import { LocalFileStore } from '../storage/local-file-store.js';
import path from 'node:path';
import type { RunJob, WorkerStats } from './protocol.js';
import { createServices } from './services.js';
import { canReleaseFreedMemory, releaseFreedMemory } from '../models/release-memory.js';
import { inferenceOptionsFromConfig } from '../models/inference-options.js';

export class JobRunner {
  private readonly running = new Map<string, AbortController>();

  private constructor(
    readonly registry: NodeRegistry,
    private readonly executor: Executor,
    private readonly config: Config,
    readonly cache: OutputCache,
    /** Hand freed memory back after each job (inference-options.ts `releaseMemory`). */
    private readonly releaseMemory: boolean,
    private readonly services?: { models?: { stats?: () => unknown } },
  ) {}

  static async create(config: Config, logger: Logger, nodeDirs: string[] = [NODES_DIR]): Promise<JobRunner> {
    const registry = await loadNodes(nodeDirs);
    const cache = new OutputCache(config.outputCacheBytes);
    const services = await createServices(config, logger);
    const releaseMemory = inferenceOptionsFromConfig(config).releaseMemory !== false;
    if (releaseMemory && !canReleaseFreedMemory() && process.platform === 'linux') {
      logger.warn({ addon: 'maskflow-heap-trim' }, 'freed memory cannot be handed back after jobs (native/heap-trim not built): RSS stays at the largest job\'s level');
    }
    // A scale-out worker has no shared disk with the API node: its files live there.
    const files: FileStore = config.serverUrl
      ? new HttpFileStore(config.serverUrl, { apiKey: config.serverKey, cacheDir: path.join(config.dataDir, 'remote-files'), timeoutMs: config.modelFetchTimeoutMs })
      : new LocalFileStore(path.join(config.dataDir, 'files'));
    const executor = new Executor({
      registry,
      cache,
      services,
      files,
      log: (level, msg, data) => logger[level]({ ...data }, msg),
    });
    return new JobRunner(registry, executor, config, cache, releaseMemory, services);
  }

  /** Model-pool figures for /health and /metrics (execution provider in use, session loads). */
  stats(): WorkerStats {
    const models = this.services?.models;
    return models?.stats ? { models: models.stats() as WorkerStats['models'] } : {};
  }

  cancel(runId: string): void {
    this.running.get(runId)?.abort(new CancelledError());
  }

  /** Runs one job to its final event (run:done, run:error or run:cancelled); never throws. */
  async run(job: RunJob, emit: (e: RunEvent) => void): Promise<void> {
    const { runId } = job;
    const controller = new AbortController();
    this.running.set(runId, controller);
    try {
      const { problems, resolved } = validateWorkflow(job.workflow, this.registry, {
        inputs: job.inputs,
        maxNodes: this.config.maxWorkflowNodes,
      });
      if (!resolved) {
        emit({ type: 'run:error', runId, error: { code: 'workflow_invalid', message: problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems } });
        return;
      }
      const result = await this.executor.run(resolved, { runId, signal: controller.signal, emit });
      emit({ type: 'run:done', runId, ...result });
    } catch (err) {
      if (err instanceof RunFailure) {
        if (err.cancelled) emit({ type: 'run:cancelled', runId, nodeId: err.nodeId });
        else emit({ type: 'run:error', runId, error: err.info() });
      } else {
        emit({ type: 'run:error', runId, error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } });
      }
    } finally {
      this.running.delete(runId);
      // Activations freed by onnxruntime stay resident in glibc's heaps until trimmed.
      if (this.releaseMemory) releaseFreedMemory();
    }
  }
}
