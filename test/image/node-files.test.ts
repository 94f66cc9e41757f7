import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNodes } from '../../server/engine/loader.js';
import { NodeRegistry } from '../../server/engine/registry.js';
import { mkdir, mkdtemp, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IMAGE_NODES } from './engine-helpers.js';

const NODES = fileURLToPath(new URL('../../nodes/', import.meta.url));

describe('image and mask node files', () => {
  it('load through the real loader (type = path, params valid under ajv strict), all registered in the harness', async () => {
    // Only this area's folders, so other areas' work in progress cannot break this test.
    const root = await mkdtemp(path.join(os.tmpdir(), 'maskflow-nodes-'));
    for (const dir of ['image', 'mask']) {
      await mkdir(path.join(root, dir));
      for (const f of await readdir(path.join(NODES, dir))) await symlink(path.join(NODES, dir, f), path.join(root, dir, f));
    }
    const registry = await loadNodes([root], new NodeRegistry());
    const files = [
      ...(await readdir(path.join(NODES, 'image'))).map((f) => `image/${f}`),
      ...(await readdir(path.join(NODES, 'mask'))).map((f) => `mask/${f}`),
    ]
      .filter((f) => f.endsWith('.ts') && !path.basename(f).startsWith('_'))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(registry.types()).toEqual(files);
    expect(IMAGE_NODES.map((d) => d.type).sort()).toEqual(files);
    // Every param has a default, so a node added with {} params is valid.
    for (const type of files) expect(registry.validateParams(type, {})).toEqual([]);
  });
});
