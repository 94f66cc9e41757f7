// The SDXL nodes and workflows through the real engine (validation, planning, cache,
// executor, file store) on the tiny fixture models.
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../server/config.js';
import { OutputCache } from '../../server/engine/cache.js';
import type { NodeServices } from '../../server/engine/context.js';
import type { RunEvent } from '../../server/engine/events.js';
import { Executor, RunFailure } from '../../server/engine/executor.js';
import { loadNodes } from '../../server/engine/loader.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { silentLogger } from '../../server/log.js';
import { LocalFileStore } from '../../server/storage/local-file-store.js';
import { GOLDENS, MODELS_DIR } from './golden-io.js';
import { testStore } from './helpers.js';

const ROOT = path.resolve(MODELS_DIR, '../../..');
const wf = (name: string) => JSON.parse(readFileSync(path.join(ROOT, 'workflows', `${name}.json`), 'utf8'));
const dataUri = (file: string) => `data:image/png;base64,${readFileSync(file).toString('base64')}`;
const IMAGE = dataUri(path.join(GOLDENS, 'inpaint9_euler_s100', 'image.png'));
const MASK = dataUri(path.join(GOLDENS, 'inpaint9_euler_s100', 'mask.png'));

let registry: NodeRegistry;
let executor: Executor;
let config: Config;
let runs = 0;

async function run(workflow: unknown, inputs: Record<string, unknown>, signal?: AbortSignal) {
  const { problems, resolved } = validateWorkflow(workflow, registry, { inputs });
  if (!resolved) throw new Error(`invalid workflow: ${JSON.stringify(problems)}`);
  const events: RunEvent[] = [];
  try {
    const result = await executor.run(resolved, { runId: `r${++runs}`, emit: (e) => events.push(e), ...(signal ? { signal } : {}) });
    return { ...result, events };
  } catch (err) {
    if (err instanceof RunFailure) throw Object.assign(new Error(err.message), err.info(), { cancelled: err.cancelled, events });
    throw err;
  }
}

beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'maskflow-sdxl-wf-'));
  config = { ...loadConfig({}, dir), modelsDir: MODELS_DIR };
  registry = await loadNodes();
  const services = { config, logger: silentLogger, models: testStore() } as unknown as NodeServices;
  executor = new Executor({ registry, cache: new OutputCache(512 * 1024 * 1024), services, files: new LocalFileStore(path.join(dir, 'files')) });
});

describe('SDXL workflows', () => {
  it('all four validate with their public inputs', () => {
    for (const name of ['sdxl-inpaint', 'sdxl-img2img', 'sdxl-txt2img', 'inpaint-then-refine']) {
      const { problems } = validateWorkflow(wf(name), registry, { inputs: { prompt: 'x', seed: 3, steps: 4 } });
      expect(problems, name).toEqual([]);
    }
    const inputs = Object.keys(wf('sdxl-inpaint').inputs);
    for (const k of ['prompt', 'negative_prompt', 'image', 'mask', 'strength', 'steps', 'guidance', 'seed', 'num_images', 'width', 'height', 'scheduler', 'model']) {
      expect(inputs).toContain(k);
    }
    const den = wf('sdxl-inpaint').nodes.sampler;
    const { resolved } = validateWorkflow(wf('sdxl-inpaint'), registry, {});
    expect(resolved!.nodes.sampler!.params).toMatchObject({ strength: 0.95, steps: 25, guidance: 7.5 });
    expect(den.type).toBe('sampling/denoise');
  });

  it('sdxl-inpaint runs end to end; a new seed re-runs only the sampler and what follows', async () => {
    const inputs = { prompt: 'a red fox', image: IMAGE, mask: MASK, steps: 3, strength: 1, seed: 7, num_images: 2, model: 'tiny-sdxl-inpaint' };
    const first = await run(wf('sdxl-inpaint'), inputs);
    const saved = first.outputs.save as { images?: unknown[] };
    expect(JSON.stringify(saved)).toMatch(/png/);
    const progress = first.events.filter((e) => e.type === 'node:progress' && e.nodeId === 'sampler');
    expect(progress.map((e) => (e as { done: number }).done)).toEqual([1, 2, 3]);
    const last = progress.at(-1) as { preview?: { mime: string; data: Uint8Array } };
    expect(last.preview?.mime).toBe('image/jpeg');

    const again = await run(wf('sdxl-inpaint'), { ...inputs, seed: 8 });
    expect(again.executed.sort()).toEqual(['composite', 'decode', 'safety', 'sampler', 'save']);
    expect(again.cached.sort()).toEqual(['controlnets', 'emb', 'encode', 'expand', 'image', 'lora', 'mask', 'model', 'prep', 'text']);

    const newPrompt = await run(wf('sdxl-inpaint'), { ...inputs, seed: 8, prompt: 'a blue fox' });
    expect(newPrompt.executed).not.toContain('encode');
    expect(newPrompt.executed).toContain('text');
  }, 120_000);

  it('txt2img, img2img and inpaint-then-refine run', async () => {
    const t2i = await run(wf('sdxl-txt2img'), { prompt: 'a lighthouse', steps: 2, width: 96, height: 64, model: 'tiny-sdxl-base' });
    expect(JSON.stringify(t2i.outputs.save)).toMatch(/png/);
    const i2i = await run(wf('sdxl-img2img'), { prompt: 'a watercolor', image: IMAGE, steps: 4, strength: 0.5, model: 'tiny-sdxl-base', scheduler: 'ddim' });
    expect(i2i.events.filter((e) => e.type === 'node:progress' && e.nodeId === 'sampler')).toHaveLength(2);
    const refine = await run(wf('inpaint-then-refine'), {
      prompt: 'a fox',
      image: IMAGE,
      mask: MASK,
      steps: 4,
      model: 'tiny-sdxl-inpaint',
      refine_model: 'tiny-sdxl-inpaint',
    });
    expect(refine.executed).toContain('refine_sampler');
    expect(JSON.stringify(refine.outputs.save)).toMatch(/png/);
  }, 120_000);

  it('an image whose size the model cannot take is resized for the model and composited back at its size', async () => {
    const png = async (w: number, h: number, ch: 1 | 3, fill: (i: number) => number) =>
      `data:image/png;base64,${(await sharp(Buffer.from(new Uint8Array(w * h * ch).map((_, i) => fill(i))), { raw: { width: w, height: h, channels: ch } }).png().toBuffer()).toString('base64')}`;
    const image = await png(100, 70, 3, (i) => (i * 7) & 255);
    const mask = await png(100, 70, 1, (i) => (i % 100 > 50 ? 255 : 0));
    const r = await run(wf('sdxl-inpaint'), { prompt: 'x', image, mask, steps: 2, seed: 1, model: 'tiny-sdxl-inpaint' });
    const logs = r.events.filter((e) => e.type === 'node:log' && e.nodeId === 'encode').map((e) => (e as { msg: string }).msg);
    expect(logs.join('\n')).toMatch(/resized from 100x70 to 96x64/);
    const saved = JSON.stringify(r.outputs.save);
    expect(saved).toMatch(/"width":100/);
    expect(saved).toMatch(/"height":70/);
  }, 60_000);

  it('an inpainting model without a mask is a clear node error', async () => {
    const err = await run(wf('sdxl-txt2img'), { prompt: 'x', steps: 1, width: 64, height: 64, model: 'tiny-sdxl-inpaint' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'mask_required', nodeId: 'sampler', input: 'latent' });
    const missing = await run(wf('sdxl-txt2img'), { prompt: 'x', model: 'no-such-model' }).catch((e) => e);
    expect(missing).toMatchObject({ code: 'model_not_found', nodeId: 'model', param: 'model' });
  }, 60_000);

  it('cancels between denoising steps', async () => {
    const ac = new AbortController();
    const { problems, resolved } = validateWorkflow(wf('sdxl-txt2img'), registry, { inputs: { prompt: 'x', steps: 50, width: 64, height: 64, model: 'tiny-sdxl-base', seed: 99 } });
    expect(problems).toEqual([]);
    const events: RunEvent[] = [];
    const p = executor.run(resolved!, {
      runId: 'cancel-me',
      signal: ac.signal,
      emit: (e) => {
        events.push(e);
        if (e.type === 'node:progress' && e.done === 2) ac.abort();
      },
    });
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(RunFailure);
    expect((err as RunFailure).cancelled).toBe(true);
    const steps = events.filter((e) => e.type === 'node:progress').length;
    expect(steps).toBeLessThan(5);
  }, 60_000);
});
