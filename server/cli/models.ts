// `maskflow models list|verify|pull`: what the catalogue finds in a models folder, whether
// pulled models still hash to what their provenance records, and pulling new ones.
import { ModelCatalog } from '../models/catalog.js';
import { listPulled, verifyPulled } from '../models/pull/provenance.js';
import { pullModel, type PullRequest, type PullSettings } from '../models/pull/pull.js';
import { formatBytes } from '../models/pull/download.js';
import { PullProgressBar } from './pull-progress.js';
import type { Io } from './validate.js';

export interface ModelsArgs {
  sub: string;
  /** pull: the source. */
  source?: string;
  file?: string;
  name?: string;
  include?: string;
  sha256?: string;
  quiet?: boolean;
}

export async function modelsCommand(args: ModelsArgs, settings: PullSettings, io: Io, progress: NodeJS.WriteStream = process.stderr): Promise<number> {
  const { modelsDir } = settings;
  const catalog = new ModelCatalog(modelsDir);
  if (args.sub === 'list') {
    const pulled = new Map((await listPulled(modelsDir)).map((p) => [p.name, p]));
    const models = catalog.list().map((m) => {
      const p = pulled.get(m.name);
      pulled.delete(m.name);
      return p ? { ...m, source: p.provenance.source } : m;
    });
    // Pulled models the catalogue does not list (yet): single-file checkpoints, diffusers folders.
    const others = [...pulled.values()].map((p) => ({ name: p.name, format: p.format, path: p.path, source: p.provenance.source }));
    io.out(JSON.stringify({ modelsDir, models: [...models, ...others] }, null, 2));
    return 0;
  }
  if (args.sub === 'verify') return verify(catalog, modelsDir, io);
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
  io.err(`unknown models subcommand "${args.sub}" (list | verify | pull)`);
  return 2;
}

/** Catalogue completeness of every model folder, and the recorded hashes of every pulled model. */
async function verify(catalog: ModelCatalog, modelsDir: string, io: Io): Promise<number> {
  const pulled = await listPulled(modelsDir);
  const pulledNames = new Set(pulled.map((p) => p.name));
  let bad = 0;
  const models = catalog.list();
  for (const m of models) {
    if (pulledNames.has(m.name)) continue; // checked by hash below
    let problem = m.missing.length ? `missing ${m.missing.join(', ')}` : '';
    if (!problem) {
      try {
        catalog.get(m.name); // reads every config the pipeline depends on
      } catch (e) {
        problem = (e as Error).message;
      }
    }
    if (problem) bad++;
    io.out(`${problem ? 'INCOMPLETE' : 'ok        '} ${m.name}${m.kind ? ` (${m.kind})` : ''}${problem ? `: ${problem}` : ''}`);
  }
  for (const p of pulled) {
    const problems = await verifyPulled(p);
    if (problems.length) bad++;
    const from = p.provenance.source.type === 'hub' ? `${p.provenance.source.repo}@${p.provenance.source.commit.slice(0, 10)}` : p.provenance.source.url;
    io.out(`${problems.length ? 'CORRUPT   ' : 'ok        '} ${p.name} (${p.format}, ${p.provenance.files.length} file(s) hashed, from ${from})${problems.length ? `: ${problems.join('; ')}` : ''}`);
  }
  if (!models.length && !pulled.length) io.err(`no models in ${modelsDir}`);
  return bad || (!models.length && !pulled.length) ? 1 : 0;
}
