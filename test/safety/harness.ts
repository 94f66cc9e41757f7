// Runs safety/prompt nodes through the real validator and executor with test source/sink nodes.
import { OutputCache } from '../../server/engine/cache.js';
import type { FileStore, NodeServices } from '../../server/engine/context.js';
import { Executor, RunFailure, type RunResult } from '../../server/engine/executor.js';
import { defineNode, Type } from '../../server/engine/index.js';
import type { AnyNodeDefinition } from '../../server/engine/node.js';
import { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import type { Workflow } from '../../server/engine/workflow.js';
import type { RgbImage } from '../../server/image/types.js';
import type { ModelRef } from '../../server/models/refs.js';
import { silentLogger } from '../../server/log.js';
import { loadConfig, type Config } from '../../server/config.js';
import checkImage from '../../nodes/safety/check-image.js';
import expand from '../../nodes/prompt/expand.js';
import type { RunErrorInfo } from '../../server/engine/errors.js';

/** Images handed to the `test/images` source node, by key. */
export const IMAGE_SOURCES = new Map<string, RgbImage[]>();
/** What `test/capture` received last, by label. */
export const CAPTURED = new Map<string, unknown>();

const imagesNode = defineNode({
  type: 'test/images',
  title: 'Test images',
  description: 'Outputs IMAGE_SOURCES[key].',
  inputs: {},
  outputs: { image: { type: 'IMAGE' } },
  params: Type.Object({ key: Type.String({ default: '' }) }, { additionalProperties: false }),
  async execute(_i, p) {
    const imgs = IMAGE_SOURCES.get(p.key);
    if (!imgs) throw new Error(`no test images "${p.key}"`);
    return { image: imgs };
  },
});

const captureImages = defineNode({
  type: 'test/capture-images',
  title: 'Capture images',
  description: 'Stores its input in CAPTURED.',
  inputs: { image: { type: 'IMAGE' } },
  outputs: {},
  output: true,
  cache: false,
  params: Type.Object({ label: Type.String({ default: 'images' }) }, { additionalProperties: false }),
  async execute(i, p) {
    CAPTURED.set(p.label, i.image);
    return { ui: { count: i.image.length } };
  },
});

const captureText = defineNode({
  type: 'test/capture-text',
  title: 'Capture text',
  description: 'Stores its input in CAPTURED.',
  inputs: { text: { type: 'STRING' } },
  outputs: {},
  output: true,
  cache: false,
  params: Type.Object({ label: Type.String({ default: 'text' }) }, { additionalProperties: false }),
  async execute(i, p) {
    CAPTURED.set(p.label, i.text);
    return { ui: { text: i.text } };
  },
});

const textNode = defineNode({
  type: 'test/text',
  title: 'Test text',
  description: 'Outputs its value.',
  inputs: {},
  outputs: { text: { type: 'STRING' } },
  params: Type.Object({ value: Type.String({ default: '' }) }, { additionalProperties: false }),
  async execute(_i, p) {
    return { text: p.value };
  },
});

const clipNode = defineNode({
  type: 'test/clip',
  title: 'Test CLIP ref',
  description: 'Outputs a CLIP ref to a model folder.',
  inputs: {},
  outputs: { clip: { type: 'CLIP' } },
  params: Type.Object({ model: Type.String({ default: '' }) }, { additionalProperties: false }),
  async execute(_i, p) {
    const clip: ModelRef = { model: p.model, loras: [], embeddings: [] };
    return { clip };
  },
});

export function testRegistry(): NodeRegistry {
  const r = new NodeRegistry();
  for (const def of [checkImage, expand, imagesNode, captureImages, captureText, textNode, clipNode]) r.register(def as unknown as AnyNodeDefinition);
  return r;
}

const noFiles: FileStore = {
  save: () => Promise.reject(new Error('no file store in this test')),
  read: () => Promise.resolve(undefined),
  pathOf: () => Promise.resolve(undefined),
};

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ MASKFLOW_MODELS_DIR: '/nonexistent-models', ...env });
}

export async function runWorkflow(
  wf: Workflow,
  services: Partial<NodeServices> & { config: Config },
  inputs?: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<{ result?: RunResult; error?: RunErrorInfo; problems?: unknown[] }> {
  const registry = testRegistry();
  const v = validateWorkflow(wf, registry, { inputs });
  if (!v.resolved) return { problems: v.problems };
  const executor = new Executor({
    registry,
    cache: new OutputCache(64 * 1024 * 1024),
    services: { logger: silentLogger, ...services } as NodeServices,
    files: noFiles,
  });
  try {
    return { result: await executor.run(v.resolved, { runId: 'test', signal }) };
  } catch (err) {
    if (err instanceof RunFailure) return { error: err.info() };
    throw err;
  }
}
