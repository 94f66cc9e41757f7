import { cpSync, mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeError } from '../../server/engine/errors.js';
import { ModelCatalog } from '../../server/models/catalog.js';
import { MODELS_DIR } from '../sdxl/golden-io.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'maskflow-catalog-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ModelCatalog', () => {
  it('lists the fixture models and reads their configs', () => {
    const cat = new ModelCatalog(MODELS_DIR);
    expect(cat.names()).toEqual(['tiny-sdxl-base', 'tiny-sdxl-inpaint']);
    expect(cat.list().map((m) => [m.name, m.complete, m.kind])).toEqual([
      ['tiny-sdxl-base', true, 'base'],
      ['tiny-sdxl-inpaint', true, 'inpaint'],
    ]);
    const inp = cat.get('tiny-sdxl-inpaint');
    expect(inp.unetInChannels).toBe(9);
    expect(inp.vaeScalingFactor).toBe(0.13025);
    expect(inp.timeIdWidth).toBe(6);
    expect(inp.forceZerosForEmptyPrompt).toBe(true);
    expect(inp.sizeMultiple).toBe(32);
    expect([inp.vaeTileSampleSize, inp.vaeTileLatentSize]).toEqual([1024, 128]);
    expect(inp.schedulerConfig._class_name).toBe('EulerDiscreteScheduler');
    expect(inp.componentBytes.unet).toBeGreaterThan(1e6);
    expect(cat.get('tiny-sdxl-base').unetInChannels).toBe(4);
  });

  it('VAE tile sizes follow diffusers: sample_size (a list: its first element) / 2^(levels − 1)', () => {
    const dir = path.join(tmp, 'tiles');
    cpSync(path.join(MODELS_DIR, 'tiny-sdxl-base'), path.join(dir, 'm'), { recursive: true });
    const cfgFile = path.join(dir, 'm/vae_decoder/config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, sample_size: [768, 512], block_out_channels: [16, 32, 32] }));
    expect(new ModelCatalog(dir).get('m')).toMatchObject({ vaeTileSampleSize: 768, vaeTileLatentSize: 192 });
  });

  it('"" resolves to the configured default, else the first folder', () => {
    expect(new ModelCatalog(MODELS_DIR).resolveName('')).toBe('tiny-sdxl-base');
    expect(new ModelCatalog(MODELS_DIR, 'tiny-sdxl-inpaint').resolveName('')).toBe('tiny-sdxl-inpaint');
    expect(new ModelCatalog(MODELS_DIR).get('').name).toBe('tiny-sdxl-base');
  });

  it('reports what an incomplete folder is missing', () => {
    const dir = path.join(tmp, 'models');
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(MODELS_DIR, 'tiny-sdxl-base'), path.join(dir, 'broken'), { recursive: true });
    rmSync(path.join(dir, 'broken', 'unet', 'model.onnx'));
    rmSync(path.join(dir, 'broken', 'tokenizer_2'), { recursive: true });
    const cat = new ModelCatalog(dir);
    expect(cat.list()[0]).toMatchObject({ name: 'broken', complete: false, missing: ['tokenizer_2/vocab.json', 'tokenizer_2/merges.txt', 'unet/model.onnx'] });
    let err: unknown;
    try {
      cat.get('broken');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NodeError);
    expect((err as NodeError).code).toBe('model_incomplete');
    expect((err as NodeError).message).toContain('unet/model.onnx');
    expect((err as NodeError).details.param).toBe('model');
  });

  it('unknown and unsafe names are clear errors', () => {
    const cat = new ModelCatalog(MODELS_DIR);
    expect(() => cat.get('nope')).toThrow(/not found.*available: tiny-sdxl-base, tiny-sdxl-inpaint/);
    expect(() => cat.get('../models')).toThrow(/invalid model name/);
    expect(() => new ModelCatalog(path.join(tmp, 'empty')).resolveName('')).toThrow(/no models in .*drop a .safetensors checkpoint/);
  });
});
