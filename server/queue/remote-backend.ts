// Scale-out execution: LocalQueue (SQLite) keeps ordering, priority, positions and
// cancellation of waiting jobs; this backend hands the jobs it dispatches to remote
// `maskflow worker` processes through one BullMQ queue and relays their events.
// Capacity is the slot count of the workers whose heartbeat is alive.
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { RunEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import type { RunJob } from '../worker/protocol.js';
import { isFinal, type FinalEvent } from '../worker/pool.js';
import type { ExecutionBackend } from './local-queue.js';
import {
  CANCEL_CHANNEL,
  CANCEL_KEY_TTL_S,
  cancelKey,
  decodeWire,
  EVENTS_CHANNEL,
  HEARTBEAT_MS,
  JOBS_QUEUE,
  WORKER_KEY_PREFIX,
  type EventMessage,
  type WorkerHeartbeat,
} from './remote-protocol.js';

interface ActiveRun {
  job: RunJob;
  onEvent: (e: RunEvent) => void;
  resolve: (e: FinalEvent) => void;
  /** BullMQ reported the job finished on the previous poll: the pub/sub final event had its chance. */
  finishedSeen: boolean;
  /** A cancel is removing it from BullMQ: its absence there is expected. */
  removing?: boolean;
}

const WAITING_STATES = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children']);
/** Finished BullMQ jobs are kept this long, so an API node restarted meanwhile finds their result. */
const KEEP_FINISHED_S = 7 * 24 * 3600;

export interface RemoteBackendOptions {
  redisUrl: string;
  logger: Logger;
  /** Poll period for heartbeats and job states (tests shorten it). */
  refreshMs?: number;
}

export class RemoteBackend implements ExecutionBackend {
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly queue: Queue;
  private readonly active = new Map<string, ActiveRun>();
  private readonly capacityListeners: Array<() => void> = [];
  private live: WorkerHeartbeat[] = [];
  private timer?: NodeJS.Timeout;
  private refreshing = false;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly opts: RemoteBackendOptions) {
    this.log = opts.logger;
    // Commands fail fast instead of queueing forever while Redis is down; BullMQ gets its own connections.
    this.redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
    this.sub = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    this.queue = new Queue(JOBS_QUEUE, { connection: { url: opts.redisUrl, maxRetriesPerRequest: null } });
    for (const c of [this.redis, this.sub]) c.on('error', (err: Error) => this.log.warn({ err: err.message }, 'redis connection error'));
    this.queue.on('error', (err: Error) => this.log.warn({ err: err.message }, 'bullmq queue error'));
  }

  /** Connects, learns the live workers, then keeps both up to date. */
  async start(): Promise<void> {
    await Promise.all([this.redis.connect(), this.sub.connect()]);
    this.sub.on('message', (channel: string, text: string) => {
      if (channel === EVENTS_CHANNEL) this.onMessage(text);
    });
    await this.sub.subscribe(EVENTS_CHANNEL);
    await this.queue.waitUntilReady();
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Slots of live workers that take jobs. */
  get capacity(): number {
    return this.live.reduce((n, w) => n + (w.draining ? 0 : w.slots), 0);
  }

  /** Workers seen in the last heartbeat period (for /health and /metrics). */
  get workers(): readonly WorkerHeartbeat[] {
    return this.live;
  }

  onCapacity(listener: () => void): void {
    this.capacityListeners.push(listener);
  }

  run(job: RunJob, onEvent: (e: RunEvent) => void): Promise<FinalEvent> {
    return new Promise<FinalEvent>((resolve) => {
      const run: ActiveRun = { job, onEvent, resolve, finishedSeen: false };
      this.active.set(job.runId, run);
      this.enqueue(run).catch((err: unknown) => {
        this.log.error({ err, runId: job.runId }, 'handing a job to the workers failed');
        this.settle(run, { type: 'run:error', runId: job.runId, error: { code: 'queue_unavailable', message: `could not queue the job in Redis: ${String(err)}` } });
      });
    });
  }

  cancel(runId: string): boolean {
    const run = this.active.get(runId);
    if (!run) return false;
    this.cancelRemote(run).catch((err: unknown) => this.log.warn({ err, runId }, 'cancelling a remote job failed'));
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.active.clear();
    await this.queue.close().catch(() => {});
    this.sub.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async enqueue(run: ActiveRun): Promise<void> {
    await this.addJob(run.job);
    await this.poll(run, true);
  }

  /** jobId = runId: re-adding after an API restart finds the job BullMQ already holds. */
  private async addJob(job: RunJob): Promise<void> {
    await this.queue.add('run', job, { jobId: job.runId, removeOnComplete: { age: KEEP_FINISHED_S }, removeOnFail: { age: KEEP_FINISHED_S } });
  }

  private async cancelRemote(run: ActiveRun): Promise<void> {
    const { runId } = run.job;
    // The key covers a worker that picks the job up after the message went out.
    await this.redis.set(cancelKey(runId), '1', 'EX', CANCEL_KEY_TTL_S);
    await this.redis.publish(CANCEL_CHANNEL, JSON.stringify({ runId }));
    const job = await this.queue.getJob(runId);
    if (!job || !WAITING_STATES.has(await job.getState())) return;
    run.removing = true;
    try {
      await job.remove();
    } catch {
      run.removing = false;
      return; // a worker locked it meanwhile: it sees the cancel key and reports run:cancelled
    }
    this.settle(run, { type: 'run:cancelled', runId });
  }

  private onMessage(text: string): void {
    let msg: EventMessage;
    try {
      msg = decodeWire<EventMessage>(text);
    } catch (err) {
      this.log.warn({ err }, 'undecodable worker event');
      return;
    }
    const run = typeof msg?.runId === 'string' ? this.active.get(msg.runId) : undefined;
    if (!run || !msg.event || msg.event.runId !== msg.runId) return;
    if (isFinal(msg.event)) this.settle(run, msg.event);
    else run.onEvent(msg.event);
  }

  private settle(run: ActiveRun, final: FinalEvent): void {
    if (this.active.get(run.job.runId) !== run) return;
    this.active.delete(run.job.runId);
    run.onEvent(final);
    run.resolve(final);
  }

  private async refresh(): Promise<void> {
    if (this.refreshing || this.stopped) return;
    this.refreshing = true;
    try {
      const before = this.capacity;
      this.live = await this.readHeartbeats();
      if (this.capacity !== before) {
        this.log.info({ capacity: this.capacity, workers: this.live.map((w) => w.id) }, 'remote worker capacity changed');
        for (const l of this.capacityListeners) l();
      }
      for (const run of [...this.active.values()]) await this.poll(run, false);
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'refreshing remote workers failed');
      // Without Redis no worker is reachable: jobs wait in the SQLite queue instead of failing.
      if (this.live.length) {
        this.live = [];
        for (const l of this.capacityListeners) l();
      }
    } finally {
      this.refreshing = false;
    }
  }

  private async readHeartbeats(): Promise<WorkerHeartbeat[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${WORKER_KEY_PREFIX}*`, 'COUNT', 200);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (!keys.length) return [];
    const values = await this.redis.mget(...keys);
    const out: WorkerHeartbeat[] = [];
    for (const v of values) {
      try {
        const hb = v ? (JSON.parse(v) as WorkerHeartbeat) : undefined;
        if (hb && typeof hb.id === 'string' && Number.isInteger(hb.slots) && hb.slots > 0) out.push({ ...hb, runs: Array.isArray(hb.runs) ? hb.runs : [] });
      } catch {
        /* a malformed heartbeat counts as no worker */
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Safety net behind pub/sub (messages are lost while the API is disconnected): a job BullMQ
   * finished resolves from its stored result; one it gave up on fails with `worker_lost`.
   * `immediate` is for the first look after (re)adding, when no event can be in flight.
   */
  private async poll(run: ActiveRun, immediate: boolean): Promise<void> {
    const { runId } = run.job;
    const job = await this.queue.getJob(runId);
    if (this.active.get(runId) !== run || run.removing) return;
    if (!job) {
      // Redis lost it (flushed or restarted without persistence): accepted work is queued again.
      this.log.warn({ runId }, 'job missing from Redis; queueing it again');
      await this.addJob(run.job);
      return;
    }
    const state = await job.getState();
    if (state !== 'completed' && state !== 'failed') return;
    if (!immediate && !run.finishedSeen) {
      run.finishedSeen = true;
      return;
    }
    this.settle(run, state === 'completed' ? this.resultOf(job) : this.failureOf(job));
  }

  private resultOf(job: Job): FinalEvent {
    const runId = job.id!;
    try {
      const final = typeof job.returnvalue === 'string' ? decodeWire<RunEvent>(job.returnvalue) : undefined;
      if (final && isFinal(final)) return { ...final, runId };
    } catch {
      /* fall through */
    }
    return { type: 'run:error', runId, error: { code: 'worker_error', message: 'the worker finished this job without a readable result' } };
  }

  private failureOf(job: Job): FinalEvent {
    const runId = job.id!;
    const reason = job.failedReason || 'unknown reason';
    if (/stall/i.test(reason)) {
      return {
        type: 'run:error',
        runId,
        error: { code: 'worker_lost', message: `the workers running this job stopped responding ${job.stalledCounter ?? job.attemptsStarted} time(s); it is not retried again (${reason})` },
      };
    }
    return { type: 'run:error', runId, error: { code: 'worker_error', message: `the worker failed this job: ${reason}` } };
  }
}
