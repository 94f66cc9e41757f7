// `maskflow models list|verify`: what the catalogue finds in a models folder.
import { ModelCatalog } from '../models/catalog.js';
import type { Io } from './validate.js';

export async function modelsCommand(sub: string, modelsDir: string, io: Io): Promise<number> {
  const catalog = new ModelCatalog(modelsDir);
  const models = catalog.list();
  if (sub === 'list') {
    io.out(JSON.stringify({ modelsDir, models }, null, 2));
    return 0;
  }
  if (sub === 'verify') {
    let bad = 0;
    for (const m of models) {
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
    if (!models.length) io.err(`no model folders in ${modelsDir}`);
    return bad || !models.length ? 1 : 0;
  }
  io.err(`unknown models subcommand "${sub}" (list | verify)`);
  return 2;
}
