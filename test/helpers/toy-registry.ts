// Registry of the toy nodes, and an executor over it, for engine tests.
import { fileURLToPath } from 'node:url';
import { OutputCache } from '../../server/engine/cache.js';
import { Executor } from '../../server/engine/executor.js';
import { loadNodes } from '../../server/engine/loader.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import type { FileStore, NodeServices } from '../../server/engine/context.js';

export const TOY_NODES_DIR = fileURLToPath(new URL('./toy-nodes/', import.meta.url));

export function toyRegistry(): Promise<NodeRegistry> {
  return loadNodes([TOY_NODES_DIR]);
}

const noFiles: FileStore = {
  save: () => Promise.reject(new Error('no file store in this test')),
  read: () => Promise.resolve(undefined),
  pathOf: () => Promise.resolve(undefined),
};

export function toyExecutor(registry: NodeRegistry, cache = new OutputCache(64 * 1024 * 1024)): Executor {
  return new Executor({ registry, cache, services: {} as NodeServices, files: noFiles });
}
