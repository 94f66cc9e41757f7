import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodes, NODES_DIR } from '../../server/engine/loader.js';
import { createAjv, type NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { workflowJsonSchema } from '../../server/engine/workflow-schema-file.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let registry: NodeRegistry;

beforeAll(async () => {
  registry = await loadNodes();
});

async function nodeFiles(dir = NODES_DIR): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await nodeFiles(p)));
    else if (dir !== NODES_DIR && e.name.endsWith('.ts') && !e.name.startsWith('_')) out.push(p);
  }
  return out;
}

describe('node catalogue', () => {
  it('registers one node per file, with type id = file path', async () => {
    const files = await nodeFiles();
    const ids = files.map((f) => path.relative(NODES_DIR, f).replace(/\.ts$/, '')).sort();
    expect(ids.length).toBeGreaterThan(0);
    expect(registry.types()).toEqual(ids);
  });

  it('every params schema compiles under ajv strict mode and its defaults validate', () => {
    for (const entry of registry.catalogue().nodes) {
      const ajv = createAjv();
      const schema = entry.params as { type: string; properties?: Record<string, { default?: unknown }> };
      const validate = ajv.compile(schema);
      expect(schema.type, entry.type).toBe('object');
      // Every param has a default, so a node dropped into a graph is valid as it is.
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        expect(prop.default, `${entry.type}.${name} default`).not.toBeUndefined();
        // Wrapped, because ajv strict mode rejects `default` at a schema root.
        const one = { type: 'object', properties: { [name]: prop } };
        expect(ajv.validate(one, { [name]: structuredClone(prop.default) }), `${entry.type}.${name} default validates`).toBe(true);
      }
      const filled: Record<string, unknown> = {};
      expect(validate(filled), `${entry.type}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(entry.title.length && entry.description.length, entry.type).toBeTruthy();
    }
  });

  it('every built-in workflow in workflows/ is valid', async () => {
    const dir = path.join(ROOT, 'workflows');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    for (const f of files) {
      const wf = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as unknown;
      expect(validateWorkflow(wf, registry).problems, f).toEqual([]);
    }
  });

  it('docs/workflow.schema.json is up to date (npm run schema)', async () => {
    expect(await readFile(path.join(ROOT, 'docs/workflow.schema.json'), 'utf8')).toBe(workflowJsonSchema());
  });
});
