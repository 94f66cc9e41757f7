// `maskflow models list|verify|import|pull`: what the catalogue finds in a models folder,
// whether pulled models still hash to what their provenance records, ahead-of-time
// compilation of checkpoints (otherwise their first use compiles them), and pulling new ones.
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { catalogFor, type ModelCatalog } from '../models/catalog.js';
import { configFolderFor, isDiffusersFolder } from '../checkpoints/plan.js';
import { CHECKPOINTS_DIR } from '../checkpoints/discovery.js';
import { listPulled, verifyPulled, type PulledModel } from '../models/pull/provenance.js';
import { pullModel, type PullRequest, type PullSettings } from '../models/pull/pull.js';
import { formatBytes } from '../models/pull/download.js';
import { PullProgressBar } from './pull-progress.js';
import type { Io } from './validate.js';

export interface ModelsArgs {
  sub: string;
  /** pull / import: the source. */
  source?: string;
  file?: string;
  name?: string;
  include?: string;
  sha256?: string;
  quiet?: boolean;
  /** import: a diffusers config folder for a non-standard single file. */
  config?: string;
}

/** A pulled model's name in the catalogue (checkpoints are listed by file name). */
const catalogueName = (p: PulledModel) => (p.format === 'checkpoint' ? `${p.name}.safetensors` : p.name);

export async function modelsCommand(args: ModelsArgs, settings: PullSettings, io: Io, progress: NodeJS.WriteStream = process.stderr): Promise<number> {
  const { modelsDir } = settings;
  const catalog = catalogFor({ ...loadConfig(), modelsDir });
  if (args.sub === 'list') {
    const pulled = new Map((await listPulled(modelsDir)).map((p) => [catalogueName(p), p]));
    const models = catalog.list().map((m) => {
      const p = pulled.get(m.name);
      pulled.delete(m.name);
      return p ? { ...m, source: p.provenance.source } : m;
    });
    const others = [...pulled.values()].map((p) => ({ name: catalogueName(p), format: p.format, path: p.path, source: p.provenance.source }));
    io.out(JSON.stringify({ modelsDir, models: [...models, ...others] }, null, 2));
    return 0;
  }
  if (args.sub === 'verify') return verify(catalog, modelsDir, io);
  if (args.sub === 'import') return importModel(catalog, modelsDir, args, io);
  if (args.sub === 'pull') {
    if (!args.source) {
      io.err('usage: maskflow models pull <owner/repo[@revision]|https-url> [--file NAME] [--name NAME] [--include safety_checker,...] [--sha256 HEX] [--models DIR]');
      return 2;
    }
    const req: PullRequest = {
      source: args.source,
      ...(args.file ? { file: args.file } : {}),
      ...(args.name ? { name: args.name } : {}),
      ...(args.include ? { include: args.include.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
      ...(args.sha256 ? { sha256: args.sha256.toLowerCase() } : {}),
    };
    const bar = new PullProgressBar(progress, args.quiet);
    try {
      const r = await pullModel(req, settings, { onProgress: (p) => bar.update(p) });
      bar.finish();
      io.out(
        r.alreadyInstalled
          ? `${r.name} is already installed (${r.format}) at ${r.path}`
          : `installed ${r.name} (${r.format}, ${r.files.length} file(s), ${formatBytes(r.files.reduce((a, f) => a + f.size, 0))}) at ${r.path}${r.resumedBytes ? `; resumed ${formatBytes(r.resumedBytes)}` : ''}`,
      );
      return 0;
    } catch (e) {
      bar.finish();
      throw e;
    }
  }
  io.err(`unknown models subcommand "${args.sub}" (list | verify | import | pull)`);
  return 2;
}

/** Every model the catalogue finds (compiling checkpoints), and the recorded hashes of every pulled model. */
async function verify(catalog: ModelCatalog, modelsDir: string, io: Io): Promise<number> {
  const pulled = await listPulled(modelsDir);
  const pulledNames = new Set(pulled.map(catalogueName));
  let bad = 0;
  const models = catalog.list();
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
    // Pulled models are reported below with their hash check, unless they fail here.
    if (problem || !pulledNames.has(m.name)) io.out(`${problem ? 'INCOMPLETE' : 'ok        '} ${m.name} [${m.format}]${m.kind ? ` (${m.kind})` : ''}${problem ? `: ${problem}` : ''}`);
  }
  for (const p of pulled) {
    const problems = await verifyPulled(p);
    if (problems.length) bad++;
    const from = p.provenance.source.type === 'hub' ? `${p.provenance.source.repo}@${p.provenance.source.commit.slice(0, 10)}` : p.provenance.source.url;
    io.out(`${problems.length ? 'CORRUPT   ' : 'ok        '} ${catalogueName(p)} (${p.format}, ${p.provenance.files.length} file(s) hashed, from ${from})${problems.length ? `: ${problems.join('; ')}` : ''}`);
  }
  if (!models.length && !pulled.length) io.err(`no models in ${modelsDir}`);
  return bad || (!models.length && !pulled.length) ? 1 : 0;
}

async function importModel(catalog: ModelCatalog, modelsDir: string, args: ModelsArgs, io: Io): Promise<number> {
  if (!args.source) {
    io.err('usage: maskflow models import <file.safetensors|diffusers-folder> [--name NAME] [--config DIR] [--models DIR]');
    return 2;
  }
  const abs = path.resolve(args.source);
  if (!existsSync(abs)) {
    io.err(`${args.source} does not exist`);
    return 1;
  }
  const name = installIntoModelsDir(abs, isDiffusersFolder(abs), modelsDir, args);
  catalog.compile(name, (done, total, what) => io.err(done < total ? `compiling ${what} (${done + 1}/${total})` : 'compiled'));
  const info = catalog.get(name);
  io.out(JSON.stringify({ name, dir: info.dir, kind: info.unetInChannels === 9 ? 'inpaint' : 'base', format: info.format }, null, 2));
  return 0;
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
