// ComfyUI's view of maskflow jobs, kept durably next to the job store: prompt_id -> job id,
// the queue number, the client and whether the prompt was deleted from /history. The job
// itself (workflow, status, outputs) lives in the job store like every other job.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export interface PromptRow {
  promptId: string;
  jobId: string;
  number: number;
  clientId?: string;
  owner?: string;
  hidden: boolean;
}

interface Row {
  prompt_id: string;
  job_id: string;
  number: number;
  client_id: string | null;
  owner: string | null;
  hidden: number;
}

const fromRow = (r: Row): PromptRow => ({
  promptId: r.prompt_id,
  jobId: r.job_id,
  number: r.number,
  clientId: r.client_id ?? undefined,
  owner: r.owner ?? undefined,
  hidden: r.hidden === 1,
});

export class PromptStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS prompts (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      prompt_id TEXT NOT NULL UNIQUE,
      job_id TEXT NOT NULL UNIQUE,
      number REAL NOT NULL,
      client_id TEXT,
      owner TEXT,
      hidden INTEGER NOT NULL DEFAULT 0
    )`);
    this.stmts = {
      insert: this.db.prepare('INSERT INTO prompts (prompt_id, job_id, number, client_id, owner) VALUES (?, ?, ?, ?, ?)'),
      byPrompt: this.db.prepare('SELECT * FROM prompts WHERE prompt_id = ?'),
      byJob: this.db.prepare('SELECT * FROM prompts WHERE job_id = ?'),
      visible: this.db.prepare('SELECT * FROM prompts WHERE hidden = 0 ORDER BY seq ASC'),
      hide: this.db.prepare('UPDATE prompts SET hidden = 1 WHERE prompt_id = ?'),
      nextNumber: this.db.prepare('SELECT COALESCE(MAX(ABS(number)), -1) + 1 AS n FROM prompts'),
    };
  }

  insert(row: Omit<PromptRow, 'hidden'>): void {
    this.stmts.insert.run(row.promptId, row.jobId, row.number, row.clientId ?? null, row.owner ?? null);
  }

  byPrompt(promptId: string): PromptRow | undefined {
    const r = this.stmts.byPrompt.get(promptId) as Row | undefined;
    return r && fromRow(r);
  }

  byJob(jobId: string): PromptRow | undefined {
    const r = this.stmts.byJob.get(jobId) as Row | undefined;
    return r && fromRow(r);
  }

  /** Every prompt not deleted from history, oldest first. */
  visible(): PromptRow[] {
    return (this.stmts.visible.all() as Row[]).map(fromRow);
  }

  hide(promptId: string): void {
    this.stmts.hide.run(promptId);
  }

  /** ComfyUI's server counter, continued across restarts. */
  nextNumber(): number {
    return (this.stmts.nextNumber.get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
