// The catalogue finds models the ways people lay them out (symlinked folders, checkpoints in
// subfolders), compiles each once per dtype and file version, and `maskflow models import`
// adds a checkpoint from elsewhere and compiles it ahead of time.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelCatalog } from '../../server/models/catalog.js';
import { MODELS_DIR } from '../sdxl/golden-io.js';
import { BASE, CHECKPOINTS, DIFFUSERS, SINGLE, SINGLE_FP16, scratchModels } from './helpers.js';

const scratch = scratchModels();
afterAll(() => scratch.cleanup());
const BIN = fileURLToPath(new URL('../../bin/maskflow.mjs', import.meta.url));

describe('catalogue of checkpoints', () => {
  it('lists symlinked ONNX and diffusers folders and checkpoints (also in subfolders), with format and kind', () => {
    symlinkSync(path.join(MODELS_DIR, 'tiny-sdxl-base'), path.join(scratch.modelsDir, 'linked-onnx'), 'dir');
    mkdirSync(path.join(scratch.modelsDir, 'checkpoints', 'sdxl'));
    symlinkSync(path.join(CHECKPOINTS, BASE), path.join(scratch.modelsDir, 'checkpoints', 'sdxl', 'nested.safetensors'));
    const cat = new ModelCatalog(scratch.modelsDir, undefined, { compiledDir: scratch.compiledDir });
    const byName = Object.fromEntries(cat.list().map((m) => [m.name, m]));
    expect(byName['linked-onnx']).toMatchObject({ format: 'onnx', kind: 'base', complete: true });
    expect(byName[DIFFUSERS]).toMatchObject({ format: 'diffusers', kind: 'inpaint', complete: true, compiled: false });
    expect(byName[SINGLE]).toMatchObject({ format: 'checkpoint', kind: 'inpaint', configFrom: expect.stringContaining('tiny-sdxl-inpaint.config') });
    expect(byName[SINGLE_FP16]).toMatchObject({ format: 'checkpoint', kind: 'inpaint' });
    expect(byName['sdxl/nested.safetensors']).toMatchObject({ format: 'checkpoint', complete: false, error: expect.stringMatching(/put its diffusers config folder at .*nested\.config/) });
    expect(cat.get('linked-onnx').unetInChannels).toBe(4);
  });

  it('compiles once, reuses the compiled folder, and recompiles (pruning the old one) when the file changes', () => {
    const file = path.join(scratch.modelsDir, 'checkpoints', 'copy.safetensors');
    copyFileSync(path.join(CHECKPOINTS, SINGLE), file);
    symlinkSync(path.join(CHECKPOINTS, 'tiny-sdxl-inpaint.config'), path.join(scratch.modelsDir, 'checkpoints', 'copy.config'), 'dir');
    const cat = new ModelCatalog(scratch.modelsDir, undefined, { compiledDir: scratch.compiledDir });
    const first = cat.compile('copy');
    expect(first.compiled).toBe(true);
    expect(first.manifest).toMatchObject({ name: 'copy.safetensors', format: 'checkpoint', kind: 'inpaint', dtype: 'float32', copied: [] });
    // Weights are hard links to the checkpoint, not copies.
    expect(readdirSync(path.join(first.dir, 'unet'))).toEqual(expect.arrayContaining(['model.onnx', 'config.json', 'copy.safetensors']));
    expect(cat.compile('copy.safetensors').compiled).toBe(false);
    expect(new ModelCatalog(scratch.modelsDir, undefined, { compiledDir: scratch.compiledDir }).list().find((m) => m.name === 'copy.safetensors')?.compiled).toBe(true);
    const info = cat.get('copy.safetensors');
    expect(info.componentBytes.unet).toBeGreaterThan(4e6);
    expect(info.componentBytes.unet).toBeLessThan(12e6);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const second = cat.compile('copy.safetensors');
    expect(second.compiled).toBe(true);
    expect(second.dir).not.toBe(first.dir);
    expect(existsSync(first.dir)).toBe(false);
    expect(readdirSync(scratch.compiledDir).filter((d) => d.includes('.tmp-'))).toEqual([]);
  });
});

describe('maskflow models import', () => {
  it('adds a checkpoint from outside the models folder with its config and compiles it', async () => {
    const models = path.join(scratch.root, 'import-models');
    const data = path.join(scratch.root, 'import-data');
    const outside = path.join(scratch.root, 'downloads');
    mkdirSync(outside);
    copyFileSync(path.join(CHECKPOINTS, SINGLE), path.join(outside, 'my-inpaint.safetensors'));
    const r = await promisify(execFile)(process.execPath, [BIN, 'models', 'import', path.join(outside, 'my-inpaint.safetensors'), '--config', path.join(CHECKPOINTS, 'tiny-sdxl-inpaint.config'), '--models', models], {
      env: { ...process.env, MASKFLOW_DATA_DIR: data, MASKFLOW_LOG_LEVEL: 'error' },
    });
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'my-inpaint.safetensors', kind: 'inpaint', format: 'checkpoint' });
    expect(r.stderr).toMatch(/compiling unet \(3\/5\)/);
    expect(existsSync(path.join(models, 'checkpoints', 'my-inpaint.config', 'unet', 'config.json'))).toBe(true);
    const list = await promisify(execFile)(process.execPath, [BIN, 'models', 'list', '--models', models], { env: { ...process.env, MASKFLOW_DATA_DIR: data } });
    expect(JSON.parse(list.stdout).models).toEqual([expect.objectContaining({ name: 'my-inpaint.safetensors', compiled: true })]);
  });
});
