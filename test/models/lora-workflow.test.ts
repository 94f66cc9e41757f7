// LoRAs and embeddings through the real engine: the inpaint workflow with models/apply-lora
// and models/load-embeddings inserted, driven by public inputs shaped like the REST API's
// `loras: [{path, scale}]` and `embeddings: [{path, tokens}]`.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/config.js';
import { OutputCache } from '../../server/engine/cache.js';
import type { NodeServices } from '../../server/engine/context.js';
import { Executor } from '../../server/engine/executor.js';
import { loadNodes } from '../../server/engine/loader.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { silentLogger } from '../../server/log.js';
import { LocalFileStore } from '../../server/storage/local-file-store.js';
import { ModelStore } from '../../server/models/model-store.js';
import { createAdapters, type AdapterPatcher } from '../../server/models/adapters.js';

const FIX = path.resolve('test/fixtures');
const ROOT = path.resolve('.');
const dataUri = async (file: string) => `data:image/png;base64,${(await readFile(file)).toString('base64')}`;

let tmp: string;
let registry: NodeRegistry;
let executor: Executor;
let store: ModelStore;
let adapters: AdapterPatcher;
let files: LocalFileStore;
let runs = 0;

/** sdxl-inpaint.json with apply-lora + load-embeddings between the model and its users. */
async function workflow(): Promise<unknown> {
  const wf = JSON.parse(await readFile(path.join(ROOT, 'workflows/sdxl-inpaint.json'), 'utf8'));
  wf.nodes.lora = { type: 'models/apply-lora', inputs: { unet: ['model', 'unet'], clip: ['model', 'clip'] }, params: {} };
  wf.nodes.emb = { type: 'models/load-embeddings', inputs: { clip: ['lora', 'clip'] }, params: {} };
  wf.nodes.text.inputs.clip = ['emb', 'clip'];
  wf.nodes.sampler.inputs.unet = ['lora', 'unet'];
  wf.inputs.loras = { node: 'lora', param: 'loras' };
  wf.inputs.embeddings = { node: 'emb', param: 'embeddings' };
  return wf;
}

async function run(inputs: Record<string, unknown>) {
  const { problems, resolved } = validateWorkflow(await workflow(), registry, { inputs });
  if (!resolved) throw new Error(`invalid workflow: ${JSON.stringify(problems)}`);
  const result = await executor.run(resolved, { runId: `r${++runs}`, emit: () => {} });
  const saved = JSON.stringify(result.outputs.save);
  const id = /"id":"([A-Za-z0-9_-]+)"/.exec(saved)![1]!;
  return { ...result, image: Buffer.from((await files.read(id))!.data) };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mf-lora-wf-'));
  const modelsDir = path.join(tmp, 'models');
  await mkdir(path.join(modelsDir, 'loras'), { recursive: true });
  await mkdir(path.join(modelsDir, 'embeddings'), { recursive: true });
  await symlink(path.join(FIX, 'models/tiny-sdxl-inpaint'), path.join(modelsDir, 'tiny-sdxl-inpaint'));
  await copyFile(path.join(FIX, 'lora/tinylora_kohya.safetensors'), path.join(modelsDir, 'loras/tiny.safetensors'));
  await copyFile(path.join(FIX, 'textual_inversion/tiny-ti.safetensors'), path.join(modelsDir, 'embeddings/tiny-ti.safetensors'));
  const config = { ...loadConfig({}, tmp), modelsDir };
  registry = await loadNodes();
  store = new ModelStore({ modelsDir, inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' }, sessionCacheBytes: 2 ** 31 });
  adapters = createAdapters(config, store, silentLogger);
  files = new LocalFileStore(path.join(tmp, 'files'));
  const services = { config, logger: silentLogger, models: store, adapters } as unknown as NodeServices;
  executor = new Executor({ registry, cache: new OutputCache(256 * 1024 * 1024), services, files });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('LoRA / embeddings in the inpaint workflow', () => {
  it('applies API-shaped loras and embeddings; an identical request reuses the merged sessions', async () => {
    const base = {
      prompt: 'a photo of <tiny-ti> on a beach',
      image: await dataUri(path.join(FIX, 'goldens/inpaint9_euler_s100/image.png')),
      mask: await dataUri(path.join(FIX, 'goldens/inpaint9_euler_s100/mask.png')),
      steps: 2,
      strength: 1,
      seed: 5,
      width: 64,
      height: 64,
      model: 'tiny-sdxl-inpaint',
    };
    const plain = await run({ ...base, loras: [], embeddings: [] });
    expect(adapters.builds.length).toBe(0);
    const withLora = await run({ ...base, loras: [{ path: 'tiny', scale: 0.8 }], embeddings: [{ path: 'tiny-ti', tokens: ['<tiny-ti>', '<tiny-ti>_1'] }] });
    expect(withLora.image.equals(plain.image)).toBe(false);
    expect(adapters.builds.map((b) => b.component).sort()).toEqual(['text_encoder', 'text_encoder_2', 'unet']);
    expect(adapters.builds.find((b) => b.component === 'text_encoder')).toMatchObject({ layers: 18, embeddingRows: 2 });
    const loads = store.pool.loads;
    const again = await run({ ...base, seed: 6, loras: [{ path: 'tiny', scale: 0.8 }], embeddings: [{ path: 'tiny-ti', tokens: ['<tiny-ti>', '<tiny-ti>_1'] }] });
    expect(again.cached).toEqual(expect.arrayContaining(['lora', 'emb', 'text']));
    expect(store.pool.loads).toBe(loads);
    expect(adapters.builds.length).toBe(3);
  }, 180_000);
});
