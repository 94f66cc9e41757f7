// Saved workflows: read-only built-ins shipped in workflows/*.json, plus the user's own in
// <dataDir>/workflows/. Built-ins cannot be overwritten or deleted (the REST facade and
// clients rely on them meaning what the repository says).
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILTIN_WORKFLOWS_DIR = fileURLToPath(new URL('../../workflows/', import.meta.url));
export const WORKFLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface WorkflowSummary {
  name: string;
  builtin: boolean;
  description?: string;
  inputs: string[];
}

async function readJsonFile(file: string): Promise<unknown | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function jsonNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.json') && WORKFLOW_NAME.test(f.slice(0, -5))).map((f) => f.slice(0, -5));
  } catch {
    return [];
  }
}

export class WorkflowStore {
  constructor(
    readonly userDir: string,
    readonly builtinDir = BUILTIN_WORKFLOWS_DIR,
  ) {}

  async isBuiltin(name: string): Promise<boolean> {
    return WORKFLOW_NAME.test(name) && (await readJsonFile(path.join(this.builtinDir, `${name}.json`))) !== undefined;
  }

  /** The workflow JSON, or undefined. Built-ins take precedence. */
  async get(name: string): Promise<{ workflow: unknown; builtin: boolean } | undefined> {
    if (!WORKFLOW_NAME.test(name)) return undefined;
    const builtin = await readJsonFile(path.join(this.builtinDir, `${name}.json`));
    if (builtin !== undefined) return { workflow: builtin, builtin: true };
    const user = await readJsonFile(path.join(this.userDir, `${name}.json`));
    return user === undefined ? undefined : { workflow: user, builtin: false };
  }

  async list(): Promise<WorkflowSummary[]> {
    const out = new Map<string, WorkflowSummary>();
    for (const [dir, builtin] of [
      [this.builtinDir, true],
      [this.userDir, false],
    ] as const) {
      for (const name of await jsonNames(dir)) {
        if (out.has(name)) continue;
        try {
          const wf = (await readJsonFile(path.join(dir, `${name}.json`))) as { description?: string; inputs?: Record<string, unknown> } | undefined;
          out.set(name, { name, builtin, ...(wf?.description ? { description: wf.description } : {}), inputs: Object.keys(wf?.inputs ?? {}) });
        } catch {
          /* unreadable file: not listed */
        }
      }
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Writes atomically (temp file + rename) so a crash never leaves half a workflow. */
  async put(name: string, workflow: unknown): Promise<void> {
    await mkdir(this.userDir, { recursive: true });
    const file = path.join(this.userDir, `${name}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(workflow, null, 2)}\n`);
    await rename(tmp, file);
  }

  async delete(name: string): Promise<boolean> {
    const file = path.join(this.userDir, `${name}.json`);
    if ((await readJsonFile(file)) === undefined) return false;
    await rm(file);
    return true;
  }
}
