// Starts the service: job store (recovering unfinished jobs), execution workers, the HTTP
// app and the websocket hub on one port.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Config } from './config.js';
import { loadNodes, NODES_DIR } from './engine/loader.js';
import type { Resolver } from './image/fetch.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { catalogFor, type ModelCatalog } from './models/catalog.js';
import { promptExpansionStatus } from './prompt/availability.js';
import { safetyStatus } from './safety/status.js';
import { createApp, createAuth } from './app.js';
import type { AppDeps, HealthSource } from './api/context.js';
import { WorkflowStore, BUILTIN_WORKFLOWS_DIR } from './api/workflow-store.js';
import { JobStore } from './queue/job-store.js';
import { LocalQueue } from './queue/local-queue.js';
import { ContentHasher, hashJobInputs } from './queue/content-hashes.js';
import { LocalFileStore } from './storage/local-file-store.js';
import { startExecution, type Execution } from './execution.js';
import type { WorkerStats } from './worker/protocol.js';
import { WsHub } from './ws/hub.js';
import { PullJobs } from './models/pull/pull-jobs.js';
import { pullSettings } from './models/pull/pull.js';
import { startWebhooks } from './api/webhooks.js';
import { ComfyService } from './comfy/service.js';
import { ComfyHub } from './comfy/ws.js';

export interface StartOptions {
  /** Node folders (default: nodes/); tests add toy nodes. */
  nodeDirs?: string[];
  logger?: Logger;
  /** Folder of built-in workflows (default: workflows/). */
  builtinWorkflowsDir?: string;
  /** Workflow behind /v1/inpaint (default: sdxl-inpaint). */
  inpaintWorkflowName?: string;
  /** DNS resolver for request-time URL checks (tests). */
  resolve?: Resolver;
  /** Static editor build served at / (default: client/dist when it exists). */
  staticDir?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
  /** For tests and the CLI: the pieces behind the server. */
  deps: AppDeps;
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.versions.node };
  try {
    out.maskflow = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const require = createRequire(import.meta.url);
    const ortPkg = require.resolve('onnxruntime-node/package.json');
    out.onnxruntime = (JSON.parse(readFileSync(ortPkg, 'utf8')) as { version: string }).version;
  } catch {
    /* versions are informational */
  }
  return out;
}

/** Model folder listing, refreshed in the background so /health never touches the disk. */
function modelWatcher(catalog: ModelCatalog, config: Config, logger: Logger) {
  let models: ReturnType<ModelCatalog['list']> = [];
  let extras: Record<string, unknown> = {};
  const refresh = () => {
    try {
      models = catalog.list();
      extras = { safety: safetyStatus(config), prompt_expansion: promptExpansionStatus(config) };
    } catch (err) {
      logger.warn({ err }, 'listing model folders failed');
    }
  };
  refresh();
  const timer = setInterval(refresh, 10_000);
  timer.unref();
  return { get: () => models, extras: () => extras, refresh, stop: () => clearInterval(timer) };
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.logLevel, { component: 'server' });
  const nodeDirs = opts.nodeDirs ?? [NODES_DIR];
  // Importing node modules on the main thread is cheap and gives validation and the catalogue; running them is the workers' job.
  const registry = await loadNodes(nodeDirs);
  const store = new JobStore(path.join(config.dataDir, 'jobs.sqlite'));
  const files = new LocalFileStore(path.join(config.dataDir, 'files'));
  const metrics = new Metrics();
  const catalog = catalogFor(config, logger);
  const models = modelWatcher(catalog, config, logger);
  const pulls = new PullJobs({ settings: pullSettings(config), logger: logger.child({ component: 'pull' }), onInstalled: () => models.refresh() });

  let execution: Execution;
  try {
    execution = await startExecution(config, { nodeDirs, logger, metrics });
  } catch (err) {
    store.close();
    models.stop();
    throw err;
  }
  const queue = new LocalQueue(store, execution.backend, {
    maxQueue: config.maxQueue,
    maxAttempts: config.jobMaxAttempts,
    metrics,
    logger: logger.child({ component: 'queue' }),
    deleteFiles: async (ids) => {
      for (const id of ids) await files.delete(id);
    },
  });
  const firstStats = (pick: (s: WorkerStats) => unknown) => execution.stats().find((w) => pick(w.stats))?.stats.models;
  const health: HealthSource = {
    workers: () => execution.workers(),
    models: () => models.get(),
    // What the workers' session pools report (CUDA may have fallen back to CPU), else the configured one.
    executionProvider: () => firstStats((s) => s.models)?.effectiveEp ?? config.ep,
    extras: () => {
      const fallback = firstStats((s) => s.models?.fallbackReason)?.fallbackReason;
      return { ...models.extras(), execution_mode: execution.mode, ...execution.status?.(), ...(fallback ? { execution_provider_fallback: fallback } : {}) };
    },
  };
  // The standard process gauge: what an operator watches to see memory go back after jobs (issue 14).
  metrics.gauge('process_resident_memory_bytes', 'Resident memory of this process (execution worker threads included).', () => [[{}, process.memoryUsage.rss()]]);
  metrics.gauge('maskflow_queue_depth', 'Jobs waiting in the queue.', () => [[{}, queue.stats().queued]]);
  metrics.gauge('maskflow_jobs_running', 'Jobs running on workers.', () => [[{}, queue.stats().running]]);
  metrics.gauge('maskflow_worker_capacity', 'Jobs the execution workers can run at once (live remote worker slots in scale-out mode).', () => [[{}, queue.stats().capacity]]);
  metrics.gauge(
    'maskflow_model_loads_total',
    'ORT sessions loaded by each worker (model components, LoRA-patched variants).',
    () => execution.stats().map((w) => [{ worker: w.label }, w.stats.models?.loads ?? 0]),
    'counter',
  );
  metrics.gauge('maskflow_session_cache_hits_total', 'Session pool hits by worker.', () => execution.stats().map((w) => [{ worker: w.label }, w.stats.models?.hits ?? 0]), 'counter');
  metrics.gauge('maskflow_session_bytes', 'Bytes of model weights held by each worker\'s session pool.', () =>
    execution.stats().map((w) => [{ worker: w.label }, w.stats.models?.bytes ?? 0]),
  );
  metrics.gauge('maskflow_worker_restarts', 'Execution worker restarts after a crash.', () => execution.stats().map((w) => [{ worker: w.label }, w.restarts]));

  const hasher = new ContentHasher(store);
  let closing = false;
  let listeningUrl = `http://${config.host}:${config.port}`;
  const deps: AppDeps = {
    config,
    registry,
    queue,
    files,
    workflows: new WorkflowStore(path.join(config.dataDir, 'workflows'), opts.builtinWorkflowsDir ?? BUILTIN_WORKFLOWS_DIR),
    logger,
    metrics,
    health,
    versions: versions(),
    inpaintWorkflowName: opts.inpaintWorkflowName,
    publicUrl: () => listeningUrl,
    resolve: opts.resolve,
    uploadIndex: store,
    recordHashes: (job) => {
      hashJobInputs(hasher, job, config.modelsDir, files)
        .then((hashes) => {
          if (Object.keys(hashes).length && !closing) store.setHashes(job.id, hashes);
        })
        .catch((err: unknown) => logger.warn({ err, jobId: job.id }, 'hashing job inputs failed'));
    },
    pulls,
    catalog,
    onModelsChanged: () => models.refresh(),
    staticDir: opts.staticDir ?? path.join(ROOT, 'client/dist'),
    startedAt: Date.now(),
  };
  const auth = createAuth(deps);
  const comfy = new ComfyService(deps);
  const app = createApp(deps, auth, comfy);
  const server = http.createServer(app);
  server.requestTimeout = 0; // synchronous /v1/inpaint waits as long as the job takes
  const hub = new WsHub(deps, auth);
  const stopWebhooks = startWebhooks(deps);
  const comfyHub = new ComfyHub(deps, comfy, auth.keys);
  hub.attach(server, (req, socket, head) => comfyHub.handleUpgrade(req, socket, head));
  metrics.gauge('maskflow_ws_connections', 'Open websocket connections.', () => [[{}, hub.connections + comfyHub.connections]]);

  await queue.start();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  listeningUrl = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
  logger.info({ url: listeningUrl, mode: execution.mode, capacity: execution.backend.capacity, nodes: registry.types().length, ep: config.ep }, 'maskflow listening');

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      closing = true;
      await pulls.close();
      await queue.close();
      stopWebhooks();
      hub.close();
      comfyHub.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await execution.stop();
      models.stop();
      comfy.close();
      store.close();
    })());
  return { url: listeningUrl, port, close, deps };
}
