import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importComfy, uiToPrompt } from '../../server/comfy/import.js';
import { main } from '../../server/cli.js';
import { loadNodes, NODES_DIR } from '../../server/engine/loader.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { insertPngText } from '../../server/image/png-metadata.js';
import { inpaintPrompt } from './helpers.js';
import { uiInpaintWorkflow } from './ui-fixture.js';

let registry: NodeRegistry;
let dir: string;
beforeAll(async () => {
  registry = await loadNodes([NODES_DIR]);
  dir = mkdtempSync(path.join(os.tmpdir(), 'maskflow-comfy-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('UI-format workflows', () => {
  it('become the prompt ComfyUI\'s frontend would send: widget order, seed control skipped, reroutes followed, notes and muted nodes dropped', () => {
    const prompt = uiToPrompt(uiInpaintWorkflow() as never, registry);
    expect(Object.keys(prompt).sort()).toEqual(['10', '11', '3', '4', '6', '7', '8', '9']);
    expect(prompt['3']).toEqual({
      class_type: 'KSampler',
      inputs: {
        model: ['4', 0],
        seed: 156680208700286,
        steps: 3,
        cfg: 7,
        sampler_name: 'dpmpp_2m',
        scheduler: 'karras',
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['11', 0],
        denoise: 0.9,
      },
    });
    expect(prompt['8']!.inputs).toEqual({ samples: ['3', 0], vae: ['4', 2] });
    expect(prompt['10']!.inputs).toEqual({ image: 'photo.png' });
    expect(prompt['7']!._meta).toEqual({ title: 'Negative' });
  });

  it('import a whole inpainting graph: a valid maskflow workflow with layout and an image input', async () => {
    const r = (await importComfy(bytes(uiInpaintWorkflow()), registry, 'inpaint'))!;
    expect(r.format).toBe('ui');
    expect(r.untranslated).toEqual([]);
    expect(validateWorkflow(r.workflow, registry).problems).toEqual([]);
    expect(r.workflow.nodes['3']).toMatchObject({ type: 'sampling/denoise', params: { strength: 0.9, scheduler: 'dpmpp_2m_karras', seed: 156680208700286 } });
    expect(r.workflow.inputs).toEqual({ image_10: { node: '10', param: 'url', description: 'ComfyUI LoadImage "photo.png"' } });
    expect((r.workflow.ui as any).nodes['3'].pos).toEqual([863, 186]);
    expect((r.workflow.ui as any).nodes['6'].pos).toEqual([415, 186]);
  });

  it('list the nodes they cannot translate with the reason, and the nodes depending on them', async () => {
    const r = (await importComfy(bytes(uiInpaintWorkflow({ withUnknown: true })), registry))!;
    expect(r.untranslated).toEqual([
      { id: '20', class_type: 'UltimateSDUpscale', reason: 'ComfyUI class UltimateSDUpscale has no maskflow translation' },
      { id: '21', class_type: 'SaveImage', reason: expect.stringContaining("node '20' (UltimateSDUpscale)") },
    ]);
    expect(r.workflow.nodes['9']!.type).toBe('image/save-image');
    expect((r.workflow.ui as any).comfy.untranslated[0]).toMatchObject({ id: '20', pos: [1451, 800] });
    expect(validateWorkflow(r.workflow, registry).problems).toEqual([]);
  });
});

describe('API JSON and PNG files', () => {
  it('reads API prompts (bare or as a POST /prompt body) and PNGs with prompt/workflow chunks', async () => {
    const api = (await importComfy(bytes(inpaintPrompt()), registry))!;
    expect(api.format).toBe('api');
    expect(validateWorkflow(api.workflow, registry).problems).toEqual([]);
    expect((await importComfy(bytes({ prompt: inpaintPrompt(), client_id: 'x' }), registry))!.format).toBe('api');
    const png = new Uint8Array(await sharp({ create: { width: 4, height: 4, channels: 3, background: '#888' } }).png().toBuffer());
    const both = insertPngText(insertPngText(png, 'prompt', JSON.stringify(inpaintPrompt({ steps: 5 }))), 'workflow', JSON.stringify(uiInpaintWorkflow()));
    const fromPng = (await importComfy(both, registry))!;
    expect(fromPng.format).toBe('png-prompt');
    expect(fromPng.workflow.nodes['3']!.params).toMatchObject({ steps: 5 });
    expect((fromPng.workflow.ui as any).nodes['3'].pos).toEqual([863, 186]); // layout from the workflow chunk
    const uiOnly = (await importComfy(insertPngText(png, 'workflow', JSON.stringify(uiInpaintWorkflow())), registry))!;
    expect(uiOnly.format).toBe('png-workflow');
    expect(await importComfy(png, registry)).toBeUndefined();
    expect(await importComfy(bytes({ hello: 'world' }), registry)).toBeUndefined();
  });
});

describe('maskflow import-comfy', () => {
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const write = (sink: string[]) => (s: string | Uint8Array) => {
      sink.push(String(s));
      return true;
    };
    const o = process.stdout.write;
    const e = process.stderr.write;
    process.stdout.write = write(out) as never;
    process.stderr.write = write(err) as never;
    try {
      return { code: await main(args), out: out.join(''), err: err.join('') };
    } finally {
      process.stdout.write = o;
      process.stderr.write = e;
    }
  };

  it('writes the workflow and exits 0 when everything translates', async () => {
    const file = path.join(dir, 'inpaint.json');
    const out = path.join(dir, 'out.json');
    writeFileSync(file, JSON.stringify(uiInpaintWorkflow()));
    const r = await run(['import-comfy', file, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.err).toContain('ui format');
    expect(r.err).toContain('image inputs: image_10');
    const wf = JSON.parse(readFileSync(out, 'utf8'));
    expect(validateWorkflow(wf, registry).problems).toEqual([]);
    expect(wf.name).toBe('inpaint');
  });

  it('lists untranslatable nodes and exits 1; refuses files without a workflow', async () => {
    const file = path.join(dir, 'custom.json');
    writeFileSync(file, JSON.stringify(uiInpaintWorkflow({ withUnknown: true })));
    const r = await run(['import-comfy', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('2 node(s) could not be translated');
    expect(r.err).toContain('#20 UltimateSDUpscale: ComfyUI class UltimateSDUpscale has no maskflow translation');
    expect(JSON.parse(r.out).nodes['3'].type).toBe('sampling/denoise');
    const junk = path.join(dir, 'junk.json');
    writeFileSync(junk, '{"a": 1}');
    expect((await run(['import-comfy', junk])).code).toBe(1);
  });
});
