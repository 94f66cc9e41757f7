// `npm run bench`: runs every bench/*.bench.ts (or only those whose name contains argv[2])
// and prints their figures. Targets are printed, never asserted.
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const dir = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = (await readdir(dir)).filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter))).sort();
for (const f of files) {
  process.stdout.write(`\n## ${f.replace('.bench.ts', '')}\n`);
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { default: (print: (line: string) => void) => Promise<void> };
  await mod.default((line) => process.stdout.write(`${line}\n`));
}
