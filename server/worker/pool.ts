// Execution workers on worker_threads, seen from the main thread. A crashed worker
// fails its job with a reason (never silently) and is replaced.
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import type { RunEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { FromWorker, RunJob, ToWorker, WorkerStats } from './protocol.js';

export type FinalEvent = Extract<RunEvent, { type: 'run:done' | 'run:error' | 'run:cancelled' }>;

export function isFinal(e: RunEvent): e is FinalEvent {
  return e.type === 'run:done' || e.type === 'run:error' || e.type === 'run:cancelled';
}

const BOOTSTRAP = new URL('./bootstrap.mjs', import.meta.url);

interface Active {
  job: RunJob;
  onEvent: (e: RunEvent) => void;
  resolve: (e: FinalEvent) => void;
}

/**
 * How long stop() lets a running job wind down. terminate() while onnxruntime runs in the
 * thread aborts the whole process (the run completes into a torn-down environment), so the job
 * is cancelled first and stop() waits for the current ORT run to return; below the 30 s most
 * process managers allow before SIGKILL.
 */
export const STOP_GRACE_MS = 25_000;

export type WorkerState = 'starting' | 'idle' | 'busy' | 'stopped';

export class ExecutionWorker {
  private worker?: Worker;
  private active?: Active;
  private ready?: Promise<void>;
  private stopping = false;
  /** Set by stop() while it waits for the running job to end. */
  private onIdle?: () => void;
  state: WorkerState = 'starting';
  restarts = 0;
  nodeTypes: string[] = [];
  /** Latest model-pool figures the worker reported. */
  stats: WorkerStats = {};

  constructor(
    private readonly config: Config,
    private readonly opts: { nodeDirs?: string[]; logger?: Logger; index?: number } = {},
  ) {}

  private get log(): Logger {
    return this.opts.logger ?? silentLogger;
  }

  start(): Promise<void> {
    this.stopping = false;
    this.ready ??= new Promise<void>((resolve, reject) => {
      const w = new Worker(BOOTSTRAP, { name: `maskflow-worker-${this.opts.index ?? 0}` });
      this.worker = w;
      this.state = 'starting';
      w.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          this.nodeTypes = msg.nodeTypes;
          this.state = this.active ? 'busy' : 'idle';
          resolve();
        } else if (msg.type === 'init-error') {
          reject(new Error(`worker failed to start: ${msg.message}`));
        } else if (msg.type === 'event') {
          this.onEvent(msg.event);
        } else if (msg.type === 'stats') {
          this.stats = msg.stats;
        }
      });
      w.on('error', (err) => this.log.error({ err }, 'execution worker error'));
      w.on('exit', (code) => this.onExit(code, reject));
      const init: ToWorker = { type: 'init', config: this.config, nodeDirs: this.opts.nodeDirs };
      w.postMessage(init);
    });
    return this.ready;
  }

  /** Runs one job; resolves with its final event. One job at a time per worker. */
  run(job: RunJob, onEvent: (e: RunEvent) => void = () => {}): Promise<FinalEvent> {
    if (this.active) return Promise.reject(new Error('worker is busy'));
    // Claimed synchronously, so a dispatcher never hands this worker two jobs.
    return new Promise<FinalEvent>((resolve, reject) => {
      this.active = { job, onEvent, resolve };
      this.start().then(
        () => {
          this.state = 'busy';
          const msg: ToWorker = { type: 'run', job };
          this.worker!.postMessage(msg);
        },
        (err: unknown) => {
          this.active = undefined;
          reject(err);
        },
      );
    });
  }

  cancel(runId: string): void {
    if (this.active?.job.runId === runId) this.worker?.postMessage({ type: 'cancel', runId } satisfies ToWorker);
  }

  get runId(): string | undefined {
    return this.active?.job.runId;
  }

  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    const w = this.worker;
    const a = this.active;
    if (w && a) {
      const ended = new Promise<void>((resolve) => (this.onIdle = resolve));
      w.postMessage({ type: 'cancel', runId: a.job.runId } satisfies ToWorker);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      if (this.active) this.log.warn({ runId: a.job.runId, graceMs }, 'execution worker still running after the stop grace period; terminating it');
    }
    this.worker = undefined;
    this.ready = undefined;
    if (w) await w.terminate();
  }

  private onEvent(e: RunEvent): void {
    const a = this.active;
    if (!a || e.runId !== a.job.runId) return;
    a.onEvent(e);
    if (isFinal(e)) {
      this.active = undefined;
      if (!this.stopping) this.state = 'idle';
      a.resolve(e);
      this.onIdle?.();
    }
  }

  private onExit(code: number, rejectStart: (e: Error) => void): void {
    this.worker = undefined;
    this.ready = undefined;
    rejectStart(new Error(`worker exited with code ${code} before it was ready`));
    const a = this.active;
    this.active = undefined;
    if (a) {
      const e: FinalEvent = {
        type: 'run:error',
        runId: a.job.runId,
        error: { code: 'worker_crashed', message: `execution worker exited (code ${code}) while running this job` },
      };
      a.onEvent(e);
      a.resolve(e);
    }
    if (this.stopping) return;
    this.restarts++;
    this.log.warn({ code, restarts: this.restarts }, 'execution worker exited; restarting');
    this.start().catch((err: unknown) => this.log.error({ err }, 'execution worker restart failed'));
  }
}

/** N workers (one per device) fed FIFO. */
export class WorkerPool {
  readonly workers: ExecutionWorker[];
  private readonly waiting: Array<{ job: RunJob; onEvent: (e: RunEvent) => void; resolve: (e: FinalEvent) => void }> = [];

  constructor(config: Config, opts: { nodeDirs?: string[]; logger?: Logger; size?: number } = {}) {
    const size = Math.max(1, opts.size ?? config.workers);
    this.workers = Array.from({ length: size }, (_, index) => new ExecutionWorker(config, { ...opts, index }));
  }

  async start(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.start()));
  }

  get idle(): number {
    return this.workers.filter((w) => w.state === 'idle').length;
  }

  get queued(): number {
    return this.waiting.length;
  }

  run(job: RunJob, onEvent: (e: RunEvent) => void = () => {}): Promise<FinalEvent> {
    return new Promise<FinalEvent>((resolve) => {
      this.waiting.push({ job, onEvent, resolve });
      this.dispatch();
    });
  }

  /** Cancels a waiting or running job. Returns false when the pool does not know it. */
  cancel(runId: string): boolean {
    const i = this.waiting.findIndex((w) => w.job.runId === runId);
    if (i >= 0) {
      const [w] = this.waiting.splice(i, 1);
      const e: FinalEvent = { type: 'run:cancelled', runId };
      w!.onEvent(e);
      w!.resolve(e);
      return true;
    }
    const worker = this.workers.find((w) => w.runId === runId);
    worker?.cancel(runId);
    return worker !== undefined;
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }

  private dispatch(): void {
    for (const worker of this.workers) {
      if (!this.waiting.length) return;
      if (worker.runId !== undefined || worker.state === 'stopped') continue;
      const next = this.waiting.shift()!;
      worker
        .run(next.job, next.onEvent)
        .then(next.resolve, (err: unknown) => {
          const e: FinalEvent = { type: 'run:error', runId: next.job.runId, error: { code: 'worker_unavailable', message: String(err) } };
          next.onEvent(e);
          next.resolve(e);
        })
        .finally(() => this.dispatch());
    }
  }
}
