// `maskflow import-comfy <file> [--out workflow.json]`: a ComfyUI workflow file (UI JSON, API
// JSON, or a PNG with its text chunks) as a maskflow workflow. Lists the nodes it could not
// translate and exits 1 when any remain (the workflow is still written, without them).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { importComfy } from '../comfy/import.js';
import { loadNodes } from '../engine/loader.js';
import { validateWorkflow } from '../engine/validate.js';
import { formatProblems, type Io } from './validate.js';

export async function importComfyCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string', short: 'o' } } });
  const file = positionals[0];
  if (!file) throw new Error('import-comfy needs a ComfyUI workflow file (.json or .png)');
  const registry = await loadNodes();
  const name = path.basename(file).replace(/\.(json|png)$/i, '').replace(/[^A-Za-z0-9_-]/g, '-');
  const result = await importComfy(new Uint8Array(await readFile(file)), registry, name);
  if (!result) {
    io.err(`${file}: no ComfyUI workflow found (expected UI JSON with nodes and links, an API prompt, or a PNG with prompt/workflow text chunks)`);
    return 1;
  }
  const text = `${JSON.stringify(result.workflow, null, 2)}\n`;
  if (values.out) await writeFile(values.out, text);
  else io.out(text.trimEnd());
  const translated = Object.keys(result.workflow.nodes).length;
  const inputs = Object.keys(result.workflow.inputs ?? {});
  io.err(`${file}: ${result.format} format, ${translated} maskflow node(s)${values.out ? ` written to ${values.out}` : ''}${inputs.length ? `; image inputs: ${inputs.join(', ')}` : ''}`);
  let code = 0;
  if (result.untranslated.length) {
    io.err(`${result.untranslated.length} node(s) could not be translated:\n${result.untranslated.map((u) => `  #${u.id} ${u.class_type}: ${u.reason}`).join('\n')}`);
    code = 1;
  }
  const { problems } = validateWorkflow(result.workflow, registry);
  if (problems.length && !result.untranslated.length) {
    io.err(`the translated workflow is not valid:\n${formatProblems(problems)}`);
    code = 1;
  }
  return code;
}
