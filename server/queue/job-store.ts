// Durable job records in SQLite (WAL). A job is inserted before the client hears about it,
// and every status change is written as it happens, so a restart finds every job.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { RunErrorInfo } from '../engine/errors.js';
import type { RunOutputs, RunTimings } from '../engine/events.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type JobKind = 'inpaint' | 'run';

export const FINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

/**
 * How one run of a job ended. `lost` (its worker died or stalled), `interrupted` (the embedded
 * server stopped under it) and `requeued` (the worker's own condition: refused key, missing
 * model folder, out of memory) are runs that died; only those count toward
 * MASKFLOW_JOB_MAX_ATTEMPTS. `discarded` is a duplicate run whose result lost to an earlier one.
 */
export type AttemptOutcome = 'succeeded' | 'failed' | 'cancelled' | 'lost' | 'interrupted' | 'requeued' | 'discarded';

export interface JobAttempt {
  /** Worker id (scale-out) or `embedded`. */
  worker: string;
  startedAt: number;
  endedAt?: number;
  outcome?: AttemptOutcome;
  /** Why a run that died or failed ended. */
  error?: string;
}

const DIED: ReadonlySet<AttemptOutcome> = new Set(['lost', 'interrupted', 'requeued']);

/** Runs of a job that died (the ones MASKFLOW_JOB_MAX_ATTEMPTS bounds). */
export const diedRuns = (log: readonly JobAttempt[] = []) => log.filter((a) => a.outcome && DIED.has(a.outcome)).length;

/** Adds a run, or updates the one with the same worker and start (reports arrive more than once). */
export function upsertAttempt(log: readonly JobAttempt[], a: JobAttempt): JobAttempt[] {
  const i = log.findIndex((x) => x.worker === a.worker && x.startedAt === a.startedAt);
  if (i < 0) return [...log, a].sort((x, y) => x.startedAt - y.startedAt);
  const out = [...log];
  out[i] = { ...log[i]!, ...a };
  return out;
}

export interface JobRecord {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** Higher runs first; FIFO within one priority. */
  priority: number;
  /** Who submitted it (API key label or client IP); scopes idempotency keys. */
  owner?: string;
  idempotencyKey?: string;
  /** Hash of the request as sent (route + body): a reused Idempotency-Key with another request is refused. */
  requestHash?: string;
  /** The request as the client sent it (flat inpaint body, or {workflow, inputs}). */
  params: Record<string, unknown>;
  /** Snapshot of the workflow that runs, and the public input values it gets. */
  workflow: unknown;
  workflowName?: string;
  inputs: Record<string, unknown>;
  seed?: number;
  model?: string;
  /** Content hashes of the model files and LoRAs the job used. */
  hashes?: Record<string, string>;
  versions?: Record<string, string>;
  webhookUrl?: string;
  /** Runs started (the length of attemptLog). */
  attempts: number;
  /** Every run of the job: which worker, when, how it ended. */
  attemptLog?: JobAttempt[];
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  timings?: RunTimings;
  outputs?: RunOutputs;
  error?: RunErrorInfo;
}

export type NewJob = Omit<JobRecord, 'status' | 'attempts' | 'attemptLog' | 'createdAt' | 'startedAt' | 'finishedAt' | 'timings' | 'outputs' | 'error'>;

interface Row {
  id: string;
  kind: string;
  status: string;
  priority: number;
  owner: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  params: string;
  workflow: string;
  workflow_name: string | null;
  inputs: string;
  seed: number | null;
  model: string | null;
  hashes: string | null;
  versions: string | null;
  webhook_url: string | null;
  attempts: number;
  attempt_log: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  timings: string | null;
  outputs: string | null;
  error: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  idempotency_key TEXT,
  request_hash TEXT,
  params TEXT NOT NULL,
  workflow TEXT NOT NULL,
  workflow_name TEXT,
  inputs TEXT NOT NULL,
  seed INTEGER,
  model TEXT,
  hashes TEXT,
  versions TEXT,
  webhook_url TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  attempt_log TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  timings TEXT,
  outputs TEXT,
  error TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs(owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS content_uploads (
  sha256 TEXT PRIMARY KEY,
  file_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS file_hashes (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  sha256 TEXT NOT NULL
);
`;

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(s: string | null): T | undefined => (s === null ? undefined : (JSON.parse(s) as T));

function fromRow(r: Row): JobRecord {
  return {
    id: r.id,
    kind: r.kind as JobKind,
    status: r.status as JobStatus,
    priority: r.priority,
    owner: r.owner ?? undefined,
    idempotencyKey: r.idempotency_key ?? undefined,
    requestHash: r.request_hash ?? undefined,
    params: JSON.parse(r.params) as Record<string, unknown>,
    workflow: JSON.parse(r.workflow) as unknown,
    workflowName: r.workflow_name ?? undefined,
    inputs: JSON.parse(r.inputs) as Record<string, unknown>,
    seed: r.seed ?? undefined,
    model: r.model ?? undefined,
    hashes: parse(r.hashes),
    versions: parse(r.versions),
    webhookUrl: r.webhook_url ?? undefined,
    attempts: r.attempts,
    attemptLog: parse(r.attempt_log),
    createdAt: r.created_at,
    startedAt: r.started_at ?? undefined,
    finishedAt: r.finished_at ?? undefined,
    timings: parse(r.timings),
    outputs: parse(r.outputs),
    error: parse(r.error),
  };
}

export class JobStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL keeps WAL commits durable across process crashes (not power loss) at a fraction of FULL's fsyncs.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.migrate();
    this.stmts = {
      insert: this.db.prepare(`INSERT INTO jobs (id, kind, status, priority, owner, idempotency_key, request_hash, params, workflow, workflow_name, inputs,
        seed, model, hashes, versions, webhook_url, attempts, created_at)
        VALUES (@id, @kind, 'queued', @priority, @owner, @idempotency_key, @request_hash, @params, @workflow, @workflow_name, @inputs,
        @seed, @model, @hashes, @versions, @webhook_url, 0, @created_at)`),
      get: this.db.prepare('SELECT * FROM jobs WHERE id = ?'),
      byIdempotency: this.db.prepare('SELECT * FROM jobs WHERE owner IS ? AND idempotency_key = ?'),
      start: this.db.prepare(`UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?`),
      attempts: this.db.prepare('UPDATE jobs SET attempt_log = ?, attempts = ? WHERE id = ?'),
      requeue: this.db.prepare(`UPDATE jobs SET status = 'queued' WHERE id = ?`),
      finish: this.db.prepare('UPDATE jobs SET status = ?, finished_at = ?, timings = ?, outputs = ?, error = ? WHERE id = ?'),
      hashes: this.db.prepare('UPDATE jobs SET hashes = ? WHERE id = ?'),
      unfinished: this.db.prepare(`SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY priority DESC, seq ASC`),
      recent: this.db.prepare('SELECT * FROM jobs ORDER BY seq DESC LIMIT ?'),
      recentOf: this.db.prepare('SELECT * FROM jobs WHERE owner IS ? ORDER BY seq DESC LIMIT ?'),
      fileHash: this.db.prepare('SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ms = ?'),
      contentUpload: this.db.prepare('SELECT file_id FROM content_uploads WHERE sha256 = ?'),
      putContentUpload: this.db.prepare('INSERT OR REPLACE INTO content_uploads (sha256, file_id) VALUES (?, ?)'),
      putFileHash: this.db.prepare('INSERT OR REPLACE INTO file_hashes (path, size, mtime_ms, sha256) VALUES (?, ?, ?, ?)'),
    };
  }

  /** Adds columns that databases written by earlier versions lack (CREATE TABLE IF NOT EXISTS keeps old tables). */
  private migrate(): void {
    const columns = new Set((this.db.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map((c) => c.name));
    if (!columns.has('request_hash')) this.db.exec('ALTER TABLE jobs ADD COLUMN request_hash TEXT');
    if (!columns.has('attempt_log')) this.db.exec('ALTER TABLE jobs ADD COLUMN attempt_log TEXT');
  }

  /** Inserts a queued job (durably, before the caller acknowledges it) and returns it. */
  insert(job: NewJob, now = Date.now()): JobRecord {
    this.stmts.insert.run({
      id: job.id,
      kind: job.kind,
      priority: job.priority,
      owner: job.owner ?? null,
      idempotency_key: job.idempotencyKey ?? null,
      request_hash: job.requestHash ?? null,
      params: JSON.stringify(job.params),
      workflow: JSON.stringify(job.workflow),
      workflow_name: job.workflowName ?? null,
      inputs: JSON.stringify(job.inputs),
      seed: job.seed ?? null,
      model: job.model ?? null,
      hashes: json(job.hashes),
      versions: json(job.versions),
      webhook_url: job.webhookUrl ?? null,
      created_at: now,
    });
    return this.get(job.id)!;
  }

  get(id: string): JobRecord | undefined {
    const r = this.stmts.get.get(id) as Row | undefined;
    return r && fromRow(r);
  }

  findByIdempotencyKey(owner: string | undefined, key: string): JobRecord | undefined {
    const r = this.stmts.byIdempotency.get(owner ?? null, key) as Row | undefined;
    return r && fromRow(r);
  }

  markRunning(id: string, now = Date.now()): void {
    this.stmts.start.run(now, id);
  }

  /** Stores the run history; `attempts` becomes the number of runs. */
  setAttempts(id: string, log: readonly JobAttempt[]): void {
    this.stmts.attempts.run(JSON.stringify(log), log.length, id);
  }

  requeue(id: string): void {
    this.stmts.requeue.run(id);
  }

  finish(id: string, status: JobStatus, result: { timings?: RunTimings; outputs?: RunOutputs; error?: RunErrorInfo } = {}, now = Date.now()): void {
    this.stmts.finish.run(status, now, json(result.timings), json(result.outputs), json(result.error), id);
  }

  setHashes(id: string, hashes: Record<string, string>): void {
    this.stmts.hashes.run(JSON.stringify(hashes), id);
  }

  /** Jobs a previous process left queued or running, in queue order. */
  unfinished(): JobRecord[] {
    return (this.stmts.unfinished.all() as Row[]).map(fromRow);
  }

  /** Newest first; only `owner`'s jobs when given. */
  recent(limit = 50, owner?: string): JobRecord[] {
    const rows = owner === undefined ? this.stmts.recent.all(limit) : this.stmts.recentOf.all(owner, limit);
    return (rows as Row[]).map(fromRow);
  }

  cachedFileHash(file: string, size: number, mtimeMs: number): string | undefined {
    return (this.stmts.fileHash.get(file, size, Math.floor(mtimeMs)) as { sha256: string } | undefined)?.sha256;
  }

  putFileHash(file: string, size: number, mtimeMs: number, sha256: string): void {
    this.stmts.putFileHash.run(file, size, Math.floor(mtimeMs), sha256);
  }

  /** The stored file holding exactly these bytes (data URIs sent again reuse it, so caches hit). */
  uploadByHash(sha256: string): string | undefined {
    return (this.stmts.contentUpload.get(sha256) as { file_id: string } | undefined)?.file_id;
  }

  putUploadHash(sha256: string, fileId: string): void {
    this.stmts.putContentUpload.run(sha256, fileId);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
