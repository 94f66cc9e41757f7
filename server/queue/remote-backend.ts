// Scale-out execution: LocalQueue (SQLite) keeps ordering, priority, positions and
// cancellation of waiting jobs; this backend hands the jobs it dispatches to remote
// `maskflow worker` processes through one BullMQ queue and relays their events.
// Capacity is the slot count of the workers whose heartbeat is alive. Runs are tracked from the
// workers' heartbeats (which worker started which run when) and their results, so a run lost
// with its worker, a run re-attached after Redis lost its state and a duplicate run are told apart.
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { RunEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { RunJob } from '../worker/protocol.js';
import { isFinal, type FinalEvent } from '../worker/pool.js';
import type { JobAttempt } from './job-store.js';
import type { BackendFinal, ExecutionBackend, OrphanResult } from './local-queue.js';
import {
  bullConnection,
  CANCEL_CHANNEL,
  CANCEL_KEY_TTL_S,
  cancelKey,
  decodeWire,
  EVENTS_CHANNEL,
  HEARTBEAT_MS,
  HEARTBEAT_TTL_MS,
  JOBS_QUEUE,
  readHeartbeats,
  reconnectDelayMs,
  resultKey,
  type EventMessage,
  type RunAttempt,
  type RunResult,
  type WorkerHeartbeat,
} from './remote-protocol.js';

interface ActiveRun {
  job: RunJob;
  onEvent: (e: RunEvent) => void;
  onAttempt?: (a: JobAttempt) => void;
  resolve: (e: BackendFinal) => void;
  /** A result was seen on the previous poll: the pub/sub final event had its chance. */
  finishedSeen: boolean;
  /** A cancel is removing it from BullMQ: its absence there is expected. */
  removing?: boolean;
  /** Added to BullMQ at least once (a later absence means Redis lost it). */
  added?: boolean;
  /** Runs reported started and not ended, by `worker@startedAt`. */
  open: Map<string, RunAttempt>;
  /** Logged that a worker still runs it while Redis lost its record. */
  heldLogged?: boolean;
  /** Times a completed BullMQ record without a readable result was dispatched again. */
  unreadableRetries?: number;
}

/** A completed record without a readable result is run again this many times before the job fails. */
const UNREADABLE_RETRIES = 2;
const WAITING_STATES = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children']);
/** Finished BullMQ jobs are kept this long, so an API node restarted meanwhile finds their result. */
const KEEP_FINISHED_S = 7 * 24 * 3600;
/**
 * After (re)connecting to Redis, heartbeats this old may still be missing because the workers
 * reconnect too: until then no run is declared lost and no job missing from Redis is re-queued.
 */
const RECONNECT_GRACE_MS = HEARTBEAT_TTL_MS;
const OUTCOME = { 'run:done': 'succeeded', 'run:error': 'failed', 'run:cancelled': 'cancelled' } as const;
const attemptKey = (a: RunAttempt) => `${a.worker}@${a.startedAt}`;

export interface RemoteBackendOptions {
  redisUrl: string;
  logger: Logger;
  metrics?: Metrics;
  /** Poll period for heartbeats and job states (tests shorten it). */
  refreshMs?: number;
}

export interface RedisStatus {
  connected: boolean;
  /** ms since epoch of the last change. */
  since: number;
  error?: string;
}

export class RemoteBackend implements ExecutionBackend {
  readonly remote = true;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly queue: Queue;
  private readonly active = new Map<string, ActiveRun>();
  private readonly capacityListeners: Array<() => void> = [];
  private readonly orphanListeners: Array<(runId: string, orphan: OrphanResult) => void> = [];
  /** Runs that ended with "requeue", by job: their BullMQ record is stale once the job is handed out again. */
  private readonly requeued = new Map<string, Set<string>>();
  private live: WorkerHeartbeat[] = [];
  private timer?: NodeJS.Timeout;
  private refreshing = false;
  private stopped = false;
  private status: RedisStatus = { connected: false, since: Date.now() };
  private readonly log: Logger;

  constructor(private readonly opts: RemoteBackendOptions) {
    this.log = opts.logger;
    // Commands fail fast instead of queueing forever while Redis is down; BullMQ gets its own connections.
    this.redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true, retryStrategy: reconnectDelayMs });
    this.sub = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: reconnectDelayMs });
    this.queue = new Queue(JOBS_QUEUE, { connection: bullConnection(opts.redisUrl) });
    for (const c of [this.redis, this.sub]) c.on('error', (err: Error) => this.log.warn({ err: err.message }, 'redis connection error'));
    this.redis.on('ready', () => this.setConnected(true));
    this.redis.on('close', () => this.setConnected(false, 'connection closed'));
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

  /** Whether Redis answers, since when, and the last error (for /health). */
  get redisStatus(): RedisStatus {
    return this.status;
  }

  onCapacity(listener: () => void): void {
    this.capacityListeners.push(listener);
  }

  onOrphan(listener: (runId: string, orphan: OrphanResult) => void): void {
    this.orphanListeners.push(listener);
  }

  run(job: RunJob, onEvent: (e: RunEvent) => void, onAttempt?: (a: JobAttempt) => void): Promise<BackendFinal> {
    return new Promise<BackendFinal>((resolve) => {
      const run: ActiveRun = { job, onEvent, onAttempt, resolve, finishedSeen: false, open: new Map() };
      this.active.set(job.runId, run);
      // Until Redis takes it, the job waits here: the poll adds it once Redis answers again.
      this.enqueue(run).catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err), runId: job.runId }, 'handing a job to Redis failed; retrying'));
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

  private setConnected(connected: boolean, error?: string): void {
    if (this.status.connected === connected) return;
    this.status = { connected, since: Date.now(), ...(error ? { error } : {}) };
    if (connected) {
      this.log.info('connected to Redis');
      return;
    }
    this.log.warn({ error }, 'Redis is unreachable; jobs wait in the queue, running ones go on');
    // Without Redis no worker is reachable: jobs wait in the SQLite queue instead of failing.
    if (this.live.length) {
      this.live = [];
      for (const l of this.capacityListeners) l();
    }
  }

  /** How long Redis has been answering (0 while it does not). */
  private upFor(): number {
    return this.status.connected ? Date.now() - this.status.since : 0;
  }

  private async enqueue(run: ActiveRun): Promise<void> {
    // A run that ended with "requeue" left a finished BullMQ job under this id: clear it for the new run.
    const previous = await this.queue.getJob(run.job.runId);
    if (previous && (await previous.getState()) === 'completed' && this.recordOf(previous.returnvalue)?.requeue) await previous.remove();
    await this.addJob(run.job);
    run.added = true;
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
    if (!job || !WAITING_STATES.has(await job.getState())) {
      // Nowhere in Redis and no worker runs it (Redis lost it): nothing else will report.
      if (!job && !this.holder(runId) && this.upFor() >= RECONNECT_GRACE_MS) this.settle(run, { type: 'run:cancelled', runId });
      return;
    }
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
    if (typeof msg?.runId !== 'string' || !msg.event || msg.event.runId !== msg.runId) return;
    const run = this.active.get(msg.runId);
    if (!isFinal(msg.event)) {
      if (run && msg.attempt) this.openAttempt(run, { worker: msg.attempt.worker, startedAt: msg.attempt.startedAt });
      run?.onEvent(msg.event);
      return;
    }
    const result: RunResult | undefined = msg.attempt ? { event: msg.event, attempt: msg.attempt, requeue: msg.requeue } : undefined;
    if (run) this.finishRun(run, result ?? msg.event);
    else if (result && !result.requeue) for (const l of this.orphanListeners) l(msg.runId, { final: result.event, attempt: result.attempt });
  }

  /** The first result of a run wins: it ends the job; other runs still open are discarded (or were lost). */
  private finishRun(run: ActiveRun, result: RunResult | FinalEvent): void {
    if (this.active.get(run.job.runId) !== run) return;
    const { runId } = run.job;
    const now = Date.now();
    const final = 'attempt' in result ? result.event : result;
    if ('attempt' in result) {
      const { attempt, requeue } = result;
      run.open.delete(attemptKey(attempt));
      const error = final.type === 'run:error' ? final.error.message : undefined;
      run.onAttempt?.({ ...attempt, endedAt: attempt.endedAt ?? now, outcome: requeue ? 'requeued' : OUTCOME[final.type], ...(error ? { error } : {}) });
    }
    let duplicates = false;
    for (const a of run.open.values()) {
      const alive = this.live.some((w) => w.id === a.worker);
      duplicates ||= alive;
      run.onAttempt?.({ ...a, endedAt: now, outcome: alive ? 'discarded' : 'lost', error: alive ? 'another run of this job finished first' : `worker ${a.worker} stopped responding` });
    }
    run.open.clear();
    const requeue = 'attempt' in result && result.requeue === true;
    if (requeue) this.requeued.set(runId, new Set(this.requeued.get(runId)).add(attemptKey(result.attempt)));
    else this.requeued.delete(runId);
    // A duplicate still running somewhere is stopped; its result, if any, is discarded.
    if (duplicates && !requeue) this.redis.publish(CANCEL_CHANNEL, JSON.stringify({ runId })).catch(() => {});
    this.settle(run, requeue ? { ...final, requeue } : final);
  }

  private settle(run: ActiveRun, final: BackendFinal): void {
    if (this.active.get(run.job.runId) !== run) return;
    this.active.delete(run.job.runId);
    const { requeue: _requeue, ...event } = final;
    // A re-queued run is not the job's end: listeners hear about the job's real end later.
    if (!final.requeue) run.onEvent(event);
    run.resolve(final);
  }

  private async refresh(): Promise<void> {
    if (this.refreshing || this.stopped) return;
    this.refreshing = true;
    try {
      const before = this.capacity;
      this.live = await readHeartbeats(this.redis);
      this.setConnected(true);
      if (this.capacity !== before) {
        this.log.info({ capacity: this.capacity, workers: this.live.map((w) => w.id) }, 'remote worker capacity changed');
        for (const l of this.capacityListeners) l();
      }
      this.trackAttempts();
      for (const run of [...this.active.values()]) await this.poll(run, false);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ err: message }, 'refreshing remote workers failed');
      this.setConnected(false, message);
    } finally {
      this.refreshing = false;
    }
  }

  /** A run of this job started on a worker (told by its heartbeat or its first event). */
  private openAttempt(run: ActiveRun, a: RunAttempt): void {
    if (run.open.has(attemptKey(a))) return;
    run.open.set(attemptKey(a), a);
    run.onAttempt?.(a);
  }

  /** Runs start as the workers' heartbeats say; an open run whose worker's heartbeat is gone was lost. */
  private trackAttempts(): void {
    for (const w of this.live) {
      for (const [runId, startedAt] of Object.entries(w.started ?? {})) {
        const run = this.active.get(runId);
        if (run) this.openAttempt(run, { worker: w.id, startedAt });
      }
    }
    if (this.upFor() < RECONNECT_GRACE_MS) return; // workers may not have heartbeaten since Redis came back
    const now = Date.now();
    for (const run of this.active.values()) {
      for (const [k, a] of run.open) {
        if (this.live.some((w) => w.id === a.worker)) continue;
        run.open.delete(k);
        this.opts.metrics?.redispatches.inc({ reason: 'worker_lost' });
        run.onAttempt?.({ ...a, endedAt: now, outcome: 'lost', error: `worker ${a.worker} stopped sending heartbeats` });
      }
    }
  }

  private holder(runId: string): WorkerHeartbeat | undefined {
    return this.live.find((w) => w.runs.includes(runId));
  }

  /**
   * Safety net behind pub/sub (messages are lost while the API is disconnected): a stored result
   * ends the run; a job BullMQ gave up on fails with `worker_lost`; a job Redis lost is left to
   * the worker still running it, else queued again.
   * `immediate` is for the first look after (re)adding, when no event can be in flight.
   */
  private async poll(run: ActiveRun, immediate: boolean): Promise<void> {
    const { runId } = run.job;
    const stored = this.recordOf(await this.redis.get(resultKey(runId)));
    const job = stored ? undefined : await this.queue.getJob(runId);
    if (this.active.get(runId) !== run || run.removing) return;
    let result: RunResult | FinalEvent | undefined = stored;
    if (!stored && !job) return this.onMissing(run);
    if (job) {
      const state = await job.getState();
      const record = state === 'completed' ? this.recordOf(job.returnvalue) : undefined;
      if (record?.requeue && this.requeued.get(runId)?.has(attemptKey(record.attempt))) {
        // The previous run's record (its pub/sub report came first): replace it with this dispatch.
        await job.remove();
        await this.addJob(run.job);
        return;
      }
      if (state === 'completed' && !record && (run.unreadableRetries ?? 0) < UNREADABLE_RETRIES) {
        // Seen under load right after a re-queue (a worker leaving on a refused key): a completed
        // record with no result is no result; run the job again rather than fail it.
        run.unreadableRetries = (run.unreadableRetries ?? 0) + 1;
        this.log.warn({ runId, retry: run.unreadableRetries }, 'job completed in Redis without a readable result; queueing it again');
        this.opts.metrics?.redispatches.inc({ reason: 'no_result' });
        await job.remove();
        await this.addJob(run.job);
        return;
      }
      if (state === 'completed') result = record ?? this.unreadable(runId);
      else if (state === 'failed') result = this.failureOf(job);
      else return;
    }
    if (!immediate && !run.finishedSeen) {
      run.finishedSeen = true;
      return;
    }
    this.finishRun(run, result!);
  }

  private async onMissing(run: ActiveRun): Promise<void> {
    const { runId } = run.job;
    const holder = this.holder(runId);
    if (holder) {
      // Redis lost the job's record but the worker still runs it: its result will come.
      if (!run.heldLogged) this.log.warn({ runId, worker: holder.id }, 'job missing from Redis; its worker still runs it, waiting for its result');
      run.heldLogged = true;
      return;
    }
    if (this.upFor() < RECONNECT_GRACE_MS) return;
    this.log.warn({ runId }, 'job missing from Redis and no worker runs it; queueing it again');
    if (run.added) this.opts.metrics?.redispatches.inc({ reason: 'redis_lost' });
    await this.addJob(run.job);
    run.added = true;
  }

  private recordOf(value: unknown): RunResult | undefined {
    if (typeof value !== 'string') return undefined;
    try {
      const r = decodeWire<RunResult>(value);
      if (r && r.event && isFinal(r.event) && r.attempt && typeof r.attempt.worker === 'string') return r;
    } catch {
      /* unreadable */
    }
    return undefined;
  }

  private unreadable(runId: string): FinalEvent {
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
