// Runs workflows of this area's nodes through the real engine (validation, planning,
// executor, file store), without loading other areas' nodes.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../server/config.js';
import { OutputCache } from '../../server/engine/cache.js';
import type { NodeServices } from '../../server/engine/context.js';
import type { RunEvent } from '../../server/engine/events.js';
import { Executor, RunFailure } from '../../server/engine/executor.js';
import type { AnyNodeDefinition } from '../../server/engine/node.js';
import { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { silentLogger } from '../../server/log.js';
import { LocalFileStore } from '../../server/storage/local-file-store.js';
import cannyEdges from '../../nodes/image/canny-edges.js';
import composite from '../../nodes/image/composite.js';
import cropToMask from '../../nodes/image/crop-to-mask.js';
import fillMasked from '../../nodes/image/fill-masked.js';
import loadImage from '../../nodes/image/load-image.js';
import resize from '../../nodes/image/resize.js';
import saveImage from '../../nodes/image/save-image.js';
import uncrop from '../../nodes/image/uncrop.js';
import loadMask from '../../nodes/mask/load-mask.js';
import prepareMask from '../../nodes/mask/prepare-mask.js';
import padForOutpaint from '../../nodes/image/pad-for-outpaint.js';
import paste from '../../nodes/image/paste.js';
import featherEdges from '../../nodes/mask/feather-edges.js';
import maskFromImage from '../../nodes/mask/from-image.js';
import growMask from '../../nodes/mask/grow.js';
import invertMask from '../../nodes/mask/invert.js';
import maskToImage from '../../nodes/mask/to-image.js';

export const IMAGE_NODES = [
  cannyEdges,
  composite,
  cropToMask,
  fillMasked,
  loadImage,
  resize,
  saveImage,
  uncrop,
  loadMask,
  prepareMask,
  padForOutpaint,
  paste,
  featherEdges,
  maskFromImage,
  growMask,
  invertMask,
  maskToImage,
] as unknown as AnyNodeDefinition[];

export interface Harness {
  config: Config;
  files: LocalFileStore;
  registry: NodeRegistry;
  run(workflow: unknown, inputs?: Record<string, unknown>): Promise<{ outputs: Record<string, Record<string, unknown>>; events: RunEvent[] }>;
}

export async function createHarness(overrides: Partial<Config> = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'maskflow-image-'));
  const config = { ...loadConfig({}, dir), ...overrides };
  const files = new LocalFileStore(path.join(config.dataDir, 'files'));
  const registry = new NodeRegistry();
  for (const def of IMAGE_NODES) registry.register(def);
  const services = { config, logger: silentLogger } as unknown as NodeServices;
  const executor = new Executor({ registry, cache: new OutputCache(256 * 1024 * 1024), services, files });
  let n = 0;
  return {
    config,
    files,
    registry,
    async run(workflow, inputs) {
      const { problems, resolved } = validateWorkflow(workflow, registry, { inputs });
      if (!resolved) throw new Error(`invalid workflow: ${JSON.stringify(problems)}`);
      const events: RunEvent[] = [];
      try {
        const result = await executor.run(resolved, { runId: `t${++n}`, emit: (e) => events.push(e) });
        return { outputs: result.outputs, events };
      } catch (err) {
        if (err instanceof RunFailure) throw Object.assign(new Error(err.message), err.info(), { events });
        throw err;
      }
    },
  };
}
