// `maskflow run`: validates, runs the workflow in an execution worker with a progress
// bar on stderr, and copies the output files into --out.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import type { RunEvent } from '../engine/events.js';
import { loadNodes } from '../engine/loader.js';
import { validateWorkflow } from '../engine/validate.js';
import { createLogger } from '../log.js';
import { LocalFileStore } from '../storage/local-file-store.js';
import { WorkerPool } from '../worker/pool.js';
import { ProgressBar } from './progress-bar.js';
import { formatProblems, type Io } from './validate.js';
import { parseInputArgs, readWorkflowArg } from './workflow-file.js';

interface SavedFileRef {
  id: string;
  filename?: string;
}

/** Output-node results reference stored files as `{id, filename}` objects anywhere in their JSON. */
function collectFileRefs(value: unknown, found: SavedFileRef[] = []): SavedFileRef[] {
  if (Array.isArray(value)) value.forEach((v) => collectFileRefs(v, found));
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.id === 'string' && typeof o.filename === 'string') found.push({ id: o.id, filename: o.filename });
    else Object.values(o).forEach((v) => collectFileRefs(v, found));
  }
  return found;
}

export async function runCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string', multiple: true, short: 'i' },
      out: { type: 'string', short: 'o', default: 'out' },
      models: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (!positionals[0]) throw new Error('run needs a workflow file or name');
  const workflow = await readWorkflowArg(positionals[0]);
  const inputs = parseInputArgs(values.input ?? []);

  const registry = await loadNodes();
  const { problems } = validateWorkflow(workflow, registry, { inputs });
  if (problems.length) {
    io.err(`${positionals[0]}: ${problems.length} problem(s)\n${formatProblems(problems)}`);
    return 1;
  }

  const ownDataDir = !process.env.MASKFLOW_DATA_DIR;
  const base = loadConfig();
  const config = {
    ...base,
    allowLocalPaths: true,
    dataDir: ownDataDir ? await mkdtemp(path.join(os.tmpdir(), 'maskflow-run-')) : base.dataDir,
    modelsDir: values.models ? path.resolve(values.models) : base.modelsDir,
    logLevel: process.env.MASKFLOW_LOG_LEVEL ?? 'warn',
  };
  const pool = new WorkerPool(config, { size: 1, logger: createLogger(config.logLevel, { component: 'cli' }) });
  const bar = new ProgressBar(process.stderr, values.quiet);
  const runId = `cli-${Date.now().toString(36)}`;
  try {
    await pool.start();
    const final = await pool.run({ runId, workflow, inputs }, (e: RunEvent) => bar.update(e));
    bar.finish();
    if (final.type === 'run:cancelled') {
      io.err('run cancelled');
      return 130;
    }
    if (final.type === 'run:error') {
      const where = final.error.nodeId ? ` in node "${final.error.nodeId}" (${final.error.nodeType})` : '';
      io.err(`run failed${where}: [${final.error.code}] ${final.error.message}`);
      if (final.error.problems) io.err(formatProblems(final.error.problems));
      return 1;
    }
    const outDir = path.resolve(values.out!);
    await mkdir(outDir, { recursive: true });
    const store = new LocalFileStore(path.join(config.dataDir, 'files'));
    const written: string[] = [];
    for (const [nodeId, ui] of Object.entries(final.outputs)) {
      for (const [i, ref] of collectFileRefs(ui).entries()) {
        const src = await store.pathOf(ref.id);
        if (!src) continue;
        const dest = path.join(outDir, `${nodeId}_${i}${path.extname(ref.filename ?? '')}`);
        await copyFile(src, dest);
        written.push(dest);
      }
    }
    await writeFile(path.join(outDir, 'outputs.json'), JSON.stringify({ outputs: final.outputs, timings: final.timings }, null, 2));
    io.out(written.length ? written.join('\n') : `no files; results in ${path.join(outDir, 'outputs.json')}`);
    return 0;
  } finally {
    await pool.stop();
    if (ownDataDir) await rm(config.dataDir, { recursive: true, force: true });
  }
}
