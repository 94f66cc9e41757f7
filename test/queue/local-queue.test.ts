// LocalQueue + JobStore with a scripted execution backend: ordering, bounds, cancellation,
// progress, durability and recovery, without worker threads.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEvent, RunOutputs } from '../../server/engine/events.js';
import { Metrics } from '../../server/metrics.js';
import { IdempotencyConflictError, QueueFullError } from '../../server/queue/job-queue.js';
import { JobStore, type JobAttempt, type NewJob } from '../../server/queue/job-store.js';
import { LocalQueue, type BackendFinal, type ExecutionBackend, type OrphanResult } from '../../server/queue/local-queue.js';
import type { FinalEvent } from '../../server/worker/pool.js';
import type { RunJob } from '../../server/worker/protocol.js';

/** A backend whose jobs finish when the test says so. */
class FakeBackend implements ExecutionBackend {
  readonly started: string[] = [];
  readonly cancelled: string[] = [];
  private readonly active = new Map<string, { onEvent: (e: RunEvent) => void; resolve: (e: FinalEvent) => void }>();
  constructor(readonly capacity = 1) {}
  run(job: RunJob, onEvent: (e: RunEvent) => void): Promise<FinalEvent> {
    this.started.push(job.runId);
    return new Promise((resolve) => this.active.set(job.runId, { onEvent, resolve }));
  }
  cancel(runId: string): boolean {
    this.cancelled.push(runId);
    this.finish({ type: 'run:cancelled', runId });
    return true;
  }
  emit(e: RunEvent): void {
    this.active.get(e.runId)?.onEvent(e);
  }
  finish(e: FinalEvent): void {
    const a = this.active.get(e.runId);
    this.active.delete(e.runId);
    a?.onEvent(e);
    a?.resolve(e);
  }
  done(runId: string, value = 1): void {
    this.finish({ type: 'run:done', runId, outputs: { out: { result: value } }, timings: { nodes: { out: 1 }, total: 2 }, executed: ['out'], cached: [] });
  }
}

/** A remote backend: runs outlive the queue, the test reports attempts, re-queues and duplicate results. */
class RemoteFake implements ExecutionBackend {
  readonly remote = true;
  readonly runs: RunJob[] = [];
  readonly cancelled: string[] = [];
  private readonly active = new Map<string, { onAttempt?: (a: JobAttempt) => void; resolve: (e: BackendFinal) => void }>();
  private orphan?: (runId: string, o: OrphanResult) => void;
  constructor(public capacity = 1) {}
  run(job: RunJob, _onEvent: (e: RunEvent) => void, onAttempt?: (a: JobAttempt) => void): Promise<BackendFinal> {
    this.runs.push(job);
    return new Promise((resolve) => this.active.set(job.runId, { onAttempt, resolve }));
  }
  cancel(runId: string): boolean {
    this.cancelled.push(runId);
    this.finish({ type: 'run:cancelled', runId });
    return true;
  }
  onOrphan(listener: (runId: string, o: OrphanResult) => void): void {
    this.orphan = listener;
  }
  attempt(runId: string, a: JobAttempt): void {
    this.active.get(runId)?.onAttempt?.(a);
  }
  finish(e: BackendFinal): void {
    const a = this.active.get(e.runId);
    this.active.delete(e.runId);
    a?.resolve(e);
  }
  duplicate(runId: string, o: OrphanResult): void {
    this.orphan?.(runId, o);
  }
}

const dirs: string[] = [];
function newStore(dir = mkdtempSync(path.join(os.tmpdir(), 'mf-queue-'))): { store: JobStore; dir: string } {
  dirs.push(dir);
  return { store: new JobStore(path.join(dir, 'jobs.sqlite')), dir };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

let n = 0;
const job = (over: Partial<NewJob> = {}): NewJob => ({
  id: `job${++n}`,
  kind: 'run',
  priority: 0,
  params: {},
  workflow: { version: 1, nodes: { out: { type: 'toy/sink' } } },
  inputs: {},
  ...over,
});
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('LocalQueue', () => {
  it('writes jobs before acknowledging, runs FIFO within priority, higher priority first', async () => {
    const { store } = newStore();
    const backend = new FakeBackend();
    const q = new LocalQueue(store, backend, { maxQueue: 10 });
    await q.start();
    const a = q.submit(job()).job;
    expect(store.get(a.id)?.status).toBe('running');
    const b = q.submit(job()).job;
    const c = q.submit(job({ priority: 2 })).job;
    const d = q.submit(job()).job;
    expect(store.get(b.id)?.status).toBe('queued');
    expect([q.position(c.id), q.position(b.id), q.position(d.id)]).toEqual([0, 1, 2]);
    for (const id of [a.id, c.id, b.id]) {
      backend.done(id);
      await tick();
    }
    expect(backend.started).toEqual([a.id, c.id, b.id, d.id]);
    expect(store.get(a.id)).toMatchObject({ status: 'succeeded', outputs: { out: { result: 1 } }, attempts: 1 });
    expect(q.stats()).toMatchObject({ queued: 0, running: 1, capacity: 1 });
  });

  it('bounds the queue and dedupes idempotency keys per owner', async () => {
    const { store } = newStore();
    const q = new LocalQueue(store, new FakeBackend(), { maxQueue: 1 });
    await q.start();
    q.submit(job()); // running
    const queued = q.submit(job({ owner: 'me', idempotencyKey: 'k', requestHash: 'h1' }));
    expect(q.submit(job({ owner: 'me', idempotencyKey: 'k', requestHash: 'h1' }))).toMatchObject({ existing: true, job: { id: queued.job.id } });
    expect(() => q.submit(job({ owner: 'me', idempotencyKey: 'k', requestHash: 'h2' }))).toThrow(IdempotencyConflictError);
    expect(() => q.submit(job({ owner: 'you', idempotencyKey: 'k' }))).toThrow(QueueFullError);
  });

  it('cancels queued jobs itself and running ones through the backend', async () => {
    const { store } = newStore();
    const backend = new FakeBackend();
    const q = new LocalQueue(store, backend, { maxQueue: 10 });
    await q.start();
    const events: string[] = [];
    q.subscribe((e, j) => events.push(`${e.type}:${j.id}`));
    const a = q.submit(job()).job;
    const b = q.submit(job()).job;
    expect(q.cancel(b.id)).toBe('cancelled');
    expect(store.get(b.id)?.status).toBe('cancelled');
    const waiting = q.wait(a.id);
    expect(q.cancel(a.id)).toBe('cancelling');
    expect((await waiting).status).toBe('cancelled');
    expect(backend.cancelled).toEqual([a.id]);
    expect(q.cancel(a.id)).toBe('finished');
    expect(q.cancel('nope')).toBe('unknown');
    expect(events).toEqual([`run:queued:${a.id}`, `run:queued:${b.id}`, `run:cancelled:${b.id}`, `run:cancelled:${a.id}`]);
  });

  it('tracks step progress and feeds metrics', async () => {
    const { store } = newStore();
    const backend = new FakeBackend();
    const metrics = new Metrics();
    const q = new LocalQueue(store, backend, { maxQueue: 10, metrics });
    await q.start();
    const wf = { version: 1, nodes: { den: { type: 'sampling/denoise' }, out: { type: 'toy/sink' } } };
    const a = q.submit(job({ workflow: wf })).job;
    backend.emit({ type: 'run:start', runId: a.id, nodes: ['den', 'out'] });
    backend.emit({ type: 'node:start', runId: a.id, nodeId: 'den', nodeType: 'sampling/denoise' });
    for (let i = 1; i <= 3; i++) backend.emit({ type: 'node:progress', runId: a.id, nodeId: 'den', done: i, total: 3 });
    expect(q.progress(a.id)).toEqual({ nodeId: 'den', nodeType: 'sampling/denoise', step: 3, total: 3, nodesDone: 0, nodesTotal: 2 });
    backend.emit({ type: 'node:done', runId: a.id, nodeId: 'den', nodeType: 'sampling/denoise', ms: 30 });
    backend.emit({ type: 'node:cached', runId: a.id, nodeId: 'out', nodeType: 'toy/sink' });
    expect(q.progress(a.id)?.nodesDone).toBe(2);
    backend.finish({ type: 'run:error', runId: a.id, error: { code: 'boom', message: 'x' } });
    await tick();
    expect(store.get(a.id)).toMatchObject({ status: 'failed', error: { code: 'boom' } });
    expect(metrics.stepTime.count({ node_type: 'sampling/denoise' })).toBe(2);
    expect(metrics.cacheHits.get({ node_type: 'toy/sink' })).toBe(1);
    expect(metrics.jobs.get({ kind: 'run', status: 'failed' })).toBe(1);
    expect(metrics.errors.get({ code: 'boom' })).toBe(1);
  });

  it('recovers unfinished jobs after a restart; closing leaves running jobs running', async () => {
    const { store, dir } = newStore();
    const backend = new FakeBackend();
    const q = new LocalQueue(store, backend, { maxQueue: 10 });
    await q.start();
    const a = q.submit(job()).job;
    const b = q.submit(job({ priority: -1 })).job;
    const c = q.submit(job({ priority: 1 })).job;
    await q.close();
    backend.finish({ type: 'run:error', runId: a.id, error: { code: 'worker_crashed', message: 'terminated' } });
    await tick();
    expect(store.get(a.id)?.status).toBe('running');
    store.close();

    const store2 = new JobStore(path.join(dir, 'jobs.sqlite'));
    const backend2 = new FakeBackend();
    const q2 = new LocalQueue(store2, backend2, { maxQueue: 10, maxAttempts: 2 });
    await q2.start();
    expect(backend2.started).toEqual([c.id]);
    expect([q2.position(a.id), q2.position(b.id)]).toEqual([0, 1]);
    backend2.done(c.id);
    await tick();
    expect(backend2.started).toEqual([c.id, a.id]);
    expect(store2.get(a.id)?.attempts).toBe(2);
    await q2.close();
    store2.close();

    // A job interrupted maxAttempts times is failed with a reason instead.
    const store3 = new JobStore(path.join(dir, 'jobs.sqlite'));
    const q3 = new LocalQueue(store3, new FakeBackend(), { maxQueue: 10, maxAttempts: 2 });
    await q3.start();
    expect(store3.get(a.id)).toMatchObject({ status: 'failed', error: { code: 'interrupted' } });
    store3.close();
  });

  it('adds the request_hash column to a job database written before it existed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-queue-'));
    dirs.push(dir);
    const file = path.join(dir, 'jobs.sqlite');
    const { default: Database } = await import('better-sqlite3');
    const old = new Database(file);
    old.exec(`CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, status TEXT NOT NULL,
      priority INTEGER NOT NULL DEFAULT 0, owner TEXT, idempotency_key TEXT, params TEXT NOT NULL, workflow TEXT NOT NULL, workflow_name TEXT,
      inputs TEXT NOT NULL, seed INTEGER, model TEXT, hashes TEXT, versions TEXT, webhook_url TEXT, attempts INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, timings TEXT, outputs TEXT, error TEXT)`);
    old.prepare(`INSERT INTO jobs (id, kind, status, params, workflow, inputs, created_at) VALUES ('old', 'run', 'queued', '{}', '{}', '{}', 1)`).run();
    old.close();
    const store = new JobStore(file);
    expect(store.get('old')).toMatchObject({ id: 'old', status: 'queued' });
    expect(store.insert(job({ idempotencyKey: 'k', requestHash: 'h' })).requestHash).toBe('h');
    store.close();
  });
});

describe('LocalQueue with a remote backend', () => {
  const missingModel = (runId: string, worker: string): BackendFinal => ({
    type: 'run:error',
    runId,
    error: { code: 'model_not_found', message: `worker ${worker}: its models folder lacks what the job needs: no model folders` },
    requeue: true,
  });

  it('queues a run failed by its worker\'s own condition again, passing that worker over, up to the attempt limit', async () => {
    const { store } = newStore();
    const backend = new RemoteFake();
    const metrics = new Metrics();
    const q = new LocalQueue(store, backend, { maxQueue: 10, maxAttempts: 2, metrics });
    await q.start();
    const a = q.submit(job()).job;
    const b = q.submit(job()).job;
    backend.attempt(a.id, { worker: 'w1', startedAt: 1 });
    expect(q.get(a.id)).toMatchObject({ status: 'running', attempts: 1 });
    backend.attempt(a.id, { worker: 'w1', startedAt: 1, endedAt: 2, outcome: 'requeued', error: 'no model' });
    backend.finish(missingModel(a.id, 'w1'));
    await tick();
    // Back in the queue ahead of b, and handed out again with w1 to avoid.
    expect(backend.runs.map((r) => [r.runId, r.avoidWorkers])).toEqual([[a.id, undefined], [a.id, ['w1']]]);
    expect(q.position(b.id)).toBe(0);
    expect(metrics.redispatches.get({ reason: 'worker_error' })).toBe(1);
    backend.attempt(a.id, { worker: 'w2', startedAt: 3, endedAt: 4, outcome: 'requeued' });
    backend.finish(missingModel(a.id, 'w2'));
    await tick();
    // Two runs died: the limit. The job fails with the error naming the last worker.
    expect(store.get(a.id)).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'model_not_found', message: expect.stringContaining('worker w2') } });
    expect(store.get(a.id)?.attemptLog?.map((x) => [x.worker, x.outcome])).toEqual([['w1', 'requeued'], ['w2', 'requeued']]);
  });

  it('re-attaches running jobs after a restart without counting an attempt', async () => {
    const { store, dir } = newStore();
    const q = new LocalQueue(store, new RemoteFake(), { maxQueue: 10, maxAttempts: 1 });
    await q.start();
    const a = q.submit(job()).job;
    (q as unknown as { backend: RemoteFake }).backend.attempt(a.id, { worker: 'w1', startedAt: 5 });
    await q.close();
    store.close();

    const store2 = new JobStore(path.join(dir, 'jobs.sqlite'));
    const backend2 = new RemoteFake(0); // no worker heartbeat read yet: re-attaching needs no free slot
    const q2 = new LocalQueue(store2, backend2, { maxQueue: 10, maxAttempts: 1 });
    await q2.start();
    expect(backend2.runs.map((r) => r.runId)).toEqual([a.id]);
    backend2.attempt(a.id, { worker: 'w1', startedAt: 5 });
    backend2.attempt(a.id, { worker: 'w1', startedAt: 5, endedAt: 9, outcome: 'succeeded' });
    backend2.finish({ type: 'run:done', runId: a.id, outputs: {}, timings: { nodes: {}, total: 1 }, executed: [], cached: [] });
    await tick();
    expect(store2.get(a.id)).toMatchObject({ status: 'succeeded', attempts: 1, attemptLog: [{ worker: 'w1', startedAt: 5, endedAt: 9, outcome: 'succeeded' }] });
    store2.close();
  });

  it('fails a job with worker_lost once its runs were lost MASKFLOW_JOB_MAX_ATTEMPTS times', async () => {
    const { store } = newStore();
    const backend = new RemoteFake();
    const metrics = new Metrics();
    const q = new LocalQueue(store, backend, { maxQueue: 10, maxAttempts: 2, metrics });
    await q.start();
    const a = q.submit(job()).job;
    backend.attempt(a.id, { worker: 'w1', startedAt: 1, endedAt: 2, outcome: 'lost', error: 'worker w1 stopped sending heartbeats' });
    expect(backend.cancelled).toEqual([]);
    backend.attempt(a.id, { worker: 'w2', startedAt: 3, endedAt: 4, outcome: 'lost', error: 'worker w2 stopped sending heartbeats' });
    await tick();
    expect(backend.cancelled).toEqual([a.id]);
    expect(store.get(a.id)).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'worker_lost', message: expect.stringContaining('w2') } });
    expect(metrics.workerLosses.get()).toBe(2);
  });

  it('keeps the first result of a job and discards a duplicate run, deleting its files', async () => {
    const { store } = newStore();
    const backend = new RemoteFake();
    const deleted: string[] = [];
    const metrics = new Metrics();
    const q = new LocalQueue(store, backend, { maxQueue: 10, metrics, deleteFiles: async (ids) => void deleted.push(...ids) });
    await q.start();
    const a = q.submit(job()).job;
    const image = (id: string) => ({ save: { images: [{ id, filename: `${id}.png`, contentType: 'image/png' }] } });
    const done = (outputs: RunOutputs) => ({ type: 'run:done' as const, runId: a.id, outputs, timings: { nodes: {}, total: 1 }, executed: [], cached: [] });
    // A duplicate reported while the job still runs is left alone (the backend settles the job first).
    backend.duplicate(a.id, { final: done(image('early-early-early-1')), attempt: { worker: 'w9', startedAt: 0 } });
    expect(deleted).toEqual([]);
    backend.attempt(a.id, { worker: 'w1', startedAt: 1, endedAt: 2, outcome: 'succeeded' });
    backend.finish(done(image('first-first-first-1')));
    await tick();
    backend.duplicate(a.id, { final: done(image('second-second-second')), attempt: { worker: 'w2', startedAt: 1, endedAt: 3 } });
    await tick();
    // The winning run reported a second time is no duplicate.
    backend.duplicate(a.id, { final: done(image('first-first-first-1')), attempt: { worker: 'w1', startedAt: 1, endedAt: 2 } });
    expect(deleted).toEqual(['second-second-second']);
    expect(store.get(a.id)?.outputs).toEqual(image('first-first-first-1'));
    expect(store.get(a.id)?.attemptLog?.map((x) => [x.worker, x.outcome])).toEqual([['w1', 'succeeded'], ['w2', 'discarded']]);
    expect(metrics.duplicateRuns.get()).toBe(1);
  });
});
