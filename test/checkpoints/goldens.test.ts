// Checkpoints compiled to ONNX by maskflow's own graph builder reproduce diffusers: every
// component golden and every pipeline golden their weights allow (fixtures README §9.4),
// from the fp32 single file (SGM keys), the diffusers folder and the base single file; the
// fp16 single file reproduces its own golden (weights upcast to float32).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import '../../server/models/golden-adapters.js';
import { replayGoldenCase } from '../../server/sdxl/golden-replay.js';
import { goldenMain } from '../../server/sdxl/golden-cli.js';
import { noResiduals } from '../../server/sdxl/unet.js';
import { floatInput, inputMeta, numericInput, outputF32 } from '../../server/models/ort-io.js';
import type { Component } from '../../server/models/catalog.js';
import { FIXTURES, GOLDENS, maxAbsDiff, readF32, readTensor, type TensorSpec } from '../sdxl/golden-io.js';
import { ModelCatalog } from '../../server/models/catalog.js';
import { BASE, CHECKPOINTS, DIFFUSERS, SINGLE, SINGLE_FP16, scratchModels, storeFor } from './helpers.js';

const scratch = scratchModels();
const store = storeFor(scratch.modelsDir, scratch.compiledDir);
afterAll(() => scratch.cleanup());

const COMP = path.join(FIXTURES, 'components');
interface Meta {
  model: string;
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
}
const components = readdirSync(COMP).filter((c) => !c.startsWith('controlnet_'));
const componentOf = (m: Meta) => m.model.split('/')[2] as Component;

/** A component golden's inputs in the dtypes the session declares, plus zero ControlNet residuals. */
function componentFeeds(s: InferenceSession, c: string, m: Meta): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = noResiduals(s);
  for (const [name, spec] of Object.entries(m.inputs)) {
    const data = readTensor(path.join(COMP, c), spec);
    const im = inputMeta(s, name);
    feeds[name] = data instanceof Float32Array ? floatInput(im, data, spec.shape) : numericInput(im, Array.from(data as ArrayLike<number | bigint>, Number), spec.shape);
  }
  return feeds;
}

const matrix: [string, string][] = [];
for (const c of components) {
  if (!c.startsWith('unet_base')) matrix.push([SINGLE, c], [DIFFUSERS, c]);
  if (!c.startsWith('unet_inpaint')) matrix.push([BASE, c]);
}

describe('component goldens from compiled checkpoints (1e-4)', () => {
  it.each(matrix)('%s: %s', async (model, c) => {
    const m = JSON.parse(readFileSync(path.join(COMP, c, 'meta.json'), 'utf8')) as Meta;
    const s = await store.getSession({ model, loras: [], embeddings: [] }, componentOf(m));
    const feeds = componentFeeds(s, c, m);
    const out = await s.run(feeds);
    for (const [name, spec] of Object.entries(m.outputs)) {
      expect(out[name]!.dims).toEqual(spec.shape);
      expect(maxAbsDiff(outputF32(out[name], name), readTensor(path.join(COMP, c), spec) as Float32Array), `${c} ${name}`).toBeLessThanOrEqual(1e-4);
    }
  });
});

const INPAINT = ['inpaint9_euler_s100', 'inpaint9_dpmpp2mk_s060', 'inpaint9_euler_cfg1', 'lora_tinylora_inpaint9_euler_s100_w080', 'ti_tiny-ti_inpaint9_euler_s100'];
const BASE_CASES = ['inpaint4_ddim_s080', 'txt2img_base_euler', 'img2img_base_dpmpp2mk_s050'];
const pipeline: [string, string][] = [...INPAINT.flatMap((c) => [[SINGLE, c], [DIFFUSERS, c]] as [string, string][]), ...BASE_CASES.map((c) => [BASE, c] as [string, string])];

describe('pipeline goldens from compiled checkpoints (final latents 2e-3, image 1e-4)', () => {
  it.each(pipeline)('%s: %s', async (model, c) => {
    const dir = path.join(GOLDENS, c);
    const r = await replayGoldenCase(dir, { store, model });
    const d = {
      final_latents: maxAbsDiff(r.finalLatents, readF32(path.join(dir, 'final_latents.bin'))),
      image_out: maxAbsDiff(r.imageOut, readF32(path.join(dir, 'image_out.bin'))),
      prompt_embeds: maxAbsDiff(r.promptEmbeds, readF32(path.join(dir, 'prompt_embeds.bin'))),
    };
    process.stdout.write(`${model} ${c}: ${JSON.stringify(d)}\n`);
    expect(d.final_latents).toBeLessThanOrEqual(2e-3);
    expect(d.image_out).toBeLessThanOrEqual(1e-4);
    expect(d.prompt_embeds).toBeLessThanOrEqual(1e-4);
  });

  it('ckpt_inpaint9_fp16_euler_s100 runs from its fp16 single file through the golden CLI (no --models)', async () => {
    const lines: string[] = [];
    const code = await goldenMain([path.join(GOLDENS, 'ckpt_inpaint9_fp16_euler_s100'), '--out', path.join(scratch.root, 'out-fp16'), '--threads', '1', '--check'], (l) => lines.push(l));
    expect(code, lines.join('\n')).toBe(0);
    expect(lines.join('\n')).toMatch(/final_latents: max abs diff .* ok/);
  });

  it('the golden CLI takes --checkpoint with --config', async () => {
    const lines: string[] = [];
    const args = [path.join(GOLDENS, 'inpaint9_euler_cfg1'), '--checkpoint', path.join(CHECKPOINTS, SINGLE), '--config', path.join(CHECKPOINTS, 'tiny-sdxl-inpaint.config'), '--out', path.join(scratch.root, 'out-cli'), '--threads', '1', '--check'];
    expect(await goldenMain(args, (l) => lines.push(l)), lines.join('\n')).toBe(0);
  });
});

describe('float16 compile (the CUDA weight dtype)', () => {
  it('builds float16 graphs that load and run (here on CPU) close to the fp32 golden', async () => {
    // The dtype follows the provider (inference-options.ts): ask the catalogue for CUDA's directly.
    const cat = new ModelCatalog(scratch.modelsDir, undefined, { compiledDir: path.join(scratch.root, 'compiled-fp16'), dtype: 'float16' });
    const { dir, manifest } = cat.compile(SINGLE_FP16);
    expect(manifest.dtype).toBe('float16');
    const s = await store.pool.get('fp16-unet', async () => ({ path: path.join(dir, 'unet', 'model.onnx') }), 0);
    expect(inputMeta(s, 'sample').type).toBe('float16');
    const c = 'unet_inpaint_b2_16x16_t500_ts1';
    const m = JSON.parse(readFileSync(path.join(COMP, c, 'meta.json'), 'utf8')) as Meta;
    const feeds = componentFeeds(s, c, m);
    const out = await s.run(feeds);
    // fp16 weights and arithmetic: ~1e-3 from the fp32 reference; a wiring mistake is O(1).
    expect(maxAbsDiff(outputF32(out.out_sample, 'out_sample'), readTensor(path.join(COMP, c), m.outputs.out_sample!) as Float32Array)).toBeLessThan(1e-2);
  });
});
