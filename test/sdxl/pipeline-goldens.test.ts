// End-to-end goldens: diffusers' SDXL inpaint / img2img / txt2img pipelines replayed
// through the golden CLI's entry function (the same domain functions the nodes call).
// Tolerances: test/fixtures/README.md §4 (final latents 2e-3, image 1e-4, embeds 1e-4).
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { goldenMain } from '../../server/sdxl/golden-cli.js';
import { replayGoldenCase } from '../../server/sdxl/golden-replay.js';
import { GOLDENS, MODELS_DIR, maxAbsDiff, readF32 } from './golden-io.js';
import { testStore } from './helpers.js';

const store = testStore();

const CASES = [
  'inpaint9_euler_s100',
  'inpaint9_dpmpp2mk_s060',
  'inpaint4_ddim_s080',
  'inpaint9_euler_cfg1',
  'txt2img_base_euler',
  'img2img_base_dpmpp2mk_s050',
];
const tmp = mkdtempSync(path.join(tmpdir(), 'maskflow-goldens-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function check(caseName: string, outDir: string, lines: string[]) {
  const ref = (f: string) => readF32(path.join(GOLDENS, caseName, f));
  const got = (f: string) => readF32(path.join(outDir, f));
  const d = {
    final_latents: maxAbsDiff(got('final_latents.bin'), ref('final_latents.bin')),
    image_out: maxAbsDiff(got('image_out.bin'), ref('image_out.bin')),
    prompt_embeds: maxAbsDiff(got('prompt_embeds.bin'), ref('prompt_embeds.bin')),
    pooled_prompt_embeds: maxAbsDiff(got('pooled_prompt_embeds.bin'), ref('pooled_prompt_embeds.bin')),
    timesteps: maxAbsDiff(got('timesteps.bin'), ref('timesteps.bin')),
  };
  // Printed so the report can quote the figures.
  process.stdout.write(`${caseName}: ${JSON.stringify(d)}\n`);
  expect(d.final_latents, lines.join('\n')).toBeLessThanOrEqual(2e-3);
  expect(d.image_out).toBeLessThanOrEqual(1e-4);
  expect(d.prompt_embeds).toBeLessThanOrEqual(1e-4);
  expect(d.pooled_prompt_embeds).toBeLessThanOrEqual(1e-4);
  expect(d.timesteps).toBe(0);
  const meta = JSON.parse(readFileSync(path.join(outDir, 'outputs.json'), 'utf8'));
  const params = JSON.parse(readFileSync(path.join(GOLDENS, caseName, 'params.json'), 'utf8'));
  expect(meta.tensors.final_latents.shape).toEqual(params.tensors.final_latents.shape);
  expect(meta.tensors.image_out.shape).toEqual(params.tensors.image_out.shape);
}

describe('diffusers pipeline goldens via the golden CLI entry function', () => {
  it.each(CASES)('%s (supplied noise.bin)', async (c) => {
    const out = path.join(tmp, c);
    const lines: string[] = [];
    const code = await goldenMain([path.join(GOLDENS, c), '--models', MODELS_DIR, '--out', out, '--threads', '1', '--check'], (l) => lines.push(l), store);
    expect(code, lines.join('\n')).toBe(0);
    check(c, out, lines);
  });

  it.each(['inpaint9_dpmpp2mk_s060', 'inpaint4_ddim_s080'])('%s with --seed-from-params (torch-compatible noise)', async (c) => {
    const out = path.join(tmp, `${c}-seed`);
    const lines: string[] = [];
    const code = await goldenMain([path.join(GOLDENS, c), '--models', MODELS_DIR, '--out', out, '--threads', '1', '--seed-from-params'], (l) => lines.push(l), store);
    expect(code, lines.join('\n')).toBe(0);
    check(c, out, lines);
  });

  it.each(['inpaint9_dpmpp2mk_s060', 'inpaint4_ddim_s080'])('%s with num_images_per_prompt 2 (same noise twice) gives the golden twice', async (c) => {
    // A case in the same format with a batch: drives the [negative × B; positive × B] layout,
    // per-image schedulers and the per-image split of noise.bin.
    const dir = path.join(tmp, `${c}-b2`);
    cpSync(path.join(GOLDENS, c), dir, { recursive: true });
    const params = JSON.parse(readFileSync(path.join(dir, 'params.json'), 'utf8'));
    writeFileSync(path.join(dir, 'params.json'), JSON.stringify({ ...params, num_images_per_prompt: 2 }));
    const noise = readFileSync(path.join(dir, 'noise.bin'));
    writeFileSync(path.join(dir, 'noise.bin'), Buffer.concat([noise, noise]));
    const r = await replayGoldenCase(dir, { store });
    const want = readF32(path.join(GOLDENS, c, 'final_latents.bin'));
    const image = readF32(path.join(GOLDENS, c, 'image_out.bin'));
    expect(r.latentShape).toEqual([2, 4, 16, 16]);
    for (let i = 0; i < 2; i++) {
      expect(maxAbsDiff(r.finalLatents.subarray(i * want.length, (i + 1) * want.length), want)).toBeLessThanOrEqual(2e-3);
      expect(maxAbsDiff(r.imageOut.subarray(i * image.length, (i + 1) * image.length), image)).toBeLessThanOrEqual(1e-4);
    }
    expect(r.promptEmbedsShape).toEqual([2, 77, 56]);
  });

  it('fails with a message on a bad case folder and on missing arguments', async () => {
    const lines: string[] = [];
    expect(await goldenMain([path.join(tmp, 'nope'), '--models', MODELS_DIR, '--out', tmp], (l) => lines.push(l))).toBe(1);
    expect(lines.join('\n')).toMatch(/no params.json/);
    expect(await goldenMain([GOLDENS], (l) => lines.push(l))).toBe(2);
    expect(lines.at(-1)).toMatch(/--models/);
  });

  it('runs as `npm run golden` in its own process', async () => {
    const out = path.join(tmp, 'npm-run');
    const { stdout } = await promisify(execFile)(
      'npm',
      ['run', '--silent', 'golden', '--', path.join(GOLDENS, 'inpaint9_euler_s100'), '--models', MODELS_DIR, '--out', out, '--check', '--threads', '1'],
      { cwd: path.resolve(MODELS_DIR, '../../..'), timeout: 120_000 },
    );
    expect(stdout).toMatch(/final_latents: max abs diff .* ok/);
    check('inpaint9_euler_s100', out, [stdout]);
  }, 120_000);
});
