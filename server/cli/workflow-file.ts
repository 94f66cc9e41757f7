// Loads a workflow for the CLI: a path to a JSON file, or the name of a built-in in workflows/.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILTIN_WORKFLOWS_DIR = fileURLToPath(new URL('../../workflows/', import.meta.url));

export async function readWorkflowArg(arg: string): Promise<unknown> {
  let file = arg;
  const isFile = await stat(file).then((s) => s.isFile(), () => false);
  if (!isFile) file = path.join(BUILTIN_WORKFLOWS_DIR, arg.endsWith('.json') ? arg : `${arg}.json`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`no workflow file "${arg}" (and no built-in workflow of that name in workflows/)`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** `name=value` pairs: JSON when the value parses, else text; `name=@path` passes a local path. */
export function parseInputArgs(pairs: string[]): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--input expects name=value, got "${pair}"`);
    const name = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    if (raw.startsWith('@')) inputs[name] = path.resolve(raw.slice(1));
    else {
      try {
        inputs[name] = JSON.parse(raw) as unknown;
      } catch {
        inputs[name] = raw;
      }
    }
  }
  return inputs;
}
