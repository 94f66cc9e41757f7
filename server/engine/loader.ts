// Discovers nodes: every nodes/<category>/<name>.ts default-exports one definition,
// and its type id is its path. Adding a node means adding one file.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyNodeDefinition } from './node.js';
import { NodeRegistry } from './registry.js';

export const NODES_DIR = fileURLToPath(new URL('../../nodes/', import.meta.url));

async function listNodeFiles(dir: string, root = dir): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...(await listNodeFiles(full, root)));
    // Files at the root (index.ts) and helpers starting with "_" are not nodes.
    else if (dir !== root && /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') && !e.name.startsWith('_')) files.push(full);
  }
  return files.sort();
}

/** Type id a node file must declare: its path under the nodes folder, without `.ts`. */
export function typeIdForFile(file: string, root: string): string {
  return path.relative(root, file).replace(/\\/g, '/').replace(/\.ts$/, '');
}

export async function loadNodes(dirs: string[] = [NODES_DIR], registry = new NodeRegistry()): Promise<NodeRegistry> {
  for (const root of dirs) {
    for (const file of await listNodeFiles(root)) {
      const mod = (await import(pathToFileURL(file).href)) as { default?: AnyNodeDefinition };
      const def = mod.default;
      const expected = typeIdForFile(file, root);
      if (!def || typeof def.execute !== 'function') throw new Error(`${file} does not default-export a node definition`);
      if (def.type !== expected) throw new Error(`${file} declares type "${def.type}" but its path says "${expected}"`);
      registry.register(def);
    }
  }
  return registry;
}
