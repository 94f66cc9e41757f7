// `maskflow models list|verify|import`: what the catalogue finds in a models folder, and
// ahead-of-time compilation of checkpoints (otherwise their first use compiles them).
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { catalogFor } from '../models/catalog.js';
import { loadConfig } from '../config.js';
import { configFolderFor, isDiffusersFolder } from '../checkpoints/plan.js';
import { CHECKPOINTS_DIR } from '../checkpoints/discovery.js';
import type { Io } from './validate.js';

export interface ModelsArgs {
  models?: string;
  name?: string;
  config?: string;
}

export async function modelsCommand(sub: string, positionals: string[], args: ModelsArgs, io: Io): Promise<number> {
  const base = loadConfig();
  const config = { ...base, modelsDir: args.models ?? base.modelsDir };
  const catalog = catalogFor(config);
  const modelsDir = config.modelsDir;
  if (sub === 'list') {
    io.out(JSON.stringify({ modelsDir, models: catalog.list() }, null, 2));
    return 0;
  }
  if (sub === 'verify') {
    const models = catalog.list();
    let bad = 0;
    for (const m of models) {
      let problem = m.error ?? (m.missing.length ? `missing ${m.missing.join(', ')}` : '');
      if (!problem) {
        try {
          catalog.get(m.name); // reads every config the pipeline depends on; compiles checkpoints
        } catch (e) {
          problem = (e as Error).message;
        }
      }
      if (problem) bad++;
      io.out(`${problem ? 'INCOMPLETE' : 'ok        '} ${m.name} [${m.format}]${m.kind ? ` (${m.kind})` : ''}${problem ? `: ${problem}` : ''}`);
    }
    if (!models.length) io.err(`no models in ${modelsDir}`);
    return bad || !models.length ? 1 : 0;
  }
  if (sub === 'import') {
    const src = positionals[0];
    if (!src) {
      io.err('usage: maskflow models import <file.safetensors|diffusers-folder> [--name NAME] [--config DIR] [--models DIR]');
      return 2;
    }
    const abs = path.resolve(src);
    if (!existsSync(abs)) {
      io.err(`${src} does not exist`);
      return 1;
    }
    const folder = isDiffusersFolder(abs);
    const name = installIntoModelsDir(abs, folder, modelsDir, args);
    catalog.compile(name, (done, total, what) => io.err(done < total ? `compiling ${what} (${done + 1}/${total})` : 'compiled'));
    const info = catalog.get(name);
    io.out(JSON.stringify({ name, dir: info.dir, kind: info.unetInChannels === 9 ? 'inpaint' : 'base', format: info.format }, null, 2));
    return 0;
  }
  io.err(`unknown models subcommand "${sub}" (list | verify | import)`);
  return 2;
}

/**
 * Makes a file or folder outside the models folder visible to it (a symlink: no copy; the
 * catalogue follows links) and returns its model name. --config copies the config folder to
 * `<stem>.config/` beside the checkpoint, where later loads find it.
 */
function installIntoModelsDir(abs: string, folder: boolean, modelsDir: string, args: ModelsArgs): string {
  const root = path.resolve(modelsDir);
  const inside = (p: string) => p.startsWith(root + path.sep);
  let target = abs;
  if (folder) {
    if (!inside(abs)) {
      target = path.join(root, args.name ?? path.basename(abs));
      mkdirSync(root, { recursive: true });
      if (!existsSync(target)) symlinkSync(abs, target, 'dir');
    }
  } else {
    const dir = path.join(root, CHECKPOINTS_DIR);
    if (!inside(abs)) {
      const file = args.name ? (args.name.endsWith('.safetensors') ? args.name : `${args.name}.safetensors`) : path.basename(abs);
      target = path.join(dir, file);
      mkdirSync(dir, { recursive: true });
      if (!existsSync(target)) symlinkSync(abs, target);
    }
    if (args.config) cpSync(path.resolve(args.config), configFolderFor(target), { recursive: true });
  }
  const rel = path.relative(folder ? root : path.join(root, CHECKPOINTS_DIR), target);
  if (rel.startsWith('..')) throw new Error(`${abs} is inside ${root} but not in ${CHECKPOINTS_DIR}/ or a model folder`);
  return rel.split(path.sep).join('/');
}
