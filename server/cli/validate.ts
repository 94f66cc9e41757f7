// `maskflow validate`: prints every problem of a workflow at once.
import { parseArgs } from 'node:util';
import type { Problem } from '../engine/errors.js';
import { loadNodes } from '../engine/loader.js';
import { validateWorkflow } from '../engine/validate.js';
import { parseInputArgs, readWorkflowArg } from './workflow-file.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `  ${p.code.padEnd(22)} ${p.path}${p.nodeId ? ` [node ${p.nodeId}]` : ''}: ${p.message}`).join('\n');
}

export async function validateCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { input: { type: 'string', multiple: true, short: 'i' } },
  });
  if (!positionals[0]) throw new Error('validate needs a workflow file or name');
  const workflow = await readWorkflowArg(positionals[0]);
  const registry = await loadNodes();
  const { problems } = validateWorkflow(workflow, registry, { inputs: parseInputArgs(values.input ?? []) });
  if (problems.length) {
    io.err(`${positionals[0]}: ${problems.length} problem(s)\n${formatProblems(problems)}`);
    return 1;
  }
  io.out(`${positionals[0]}: valid`);
  return 0;
}
