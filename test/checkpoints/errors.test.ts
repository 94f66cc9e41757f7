// Bad checkpoints get a clear error naming what is wrong, and nothing half-compiled is left
// behind: truncated files, impossible headers, overlapping or unknown tensors, missing and
// unexpected keys, other model families, pickles, and config folders that contradict weights.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeError } from '../../server/engine/errors.js';
import { ModelCatalog } from '../../server/models/catalog.js';
import type { Tensor } from 'onnxruntime-node';
import { f32ToBf16 } from '../../server/models/half.js';
import { floatInput, inputMeta, numericInput, outputF32 } from '../../server/models/ort-io.js';
import { noResiduals } from '../../server/sdxl/unet.js';
import { FIXTURES, maxAbsDiff, readTensor, type TensorSpec } from '../sdxl/golden-io.js';
import { CHECKPOINTS, SINGLE, scratchModels, storeFor } from './helpers.js';

const scratch = scratchModels();
afterAll(() => scratch.cleanup());
const ck = path.join(scratch.modelsDir, 'checkpoints');
const original = readFileSync(path.join(CHECKPOINTS, SINGLE));
const headerLen = Number(original.readBigUInt64LE(0));
const header = JSON.parse(original.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
const data = original.subarray(8 + headerLen);

/** Writes a variant of the fixture file with its header changed (data kept, optionally extended). */
function variant(name: string, mutate: (h: typeof header) => void, extra = Buffer.alloc(0), config = true): string {
  const h = structuredClone(header);
  mutate(h);
  const json = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path.join(ck, name), Buffer.concat([len, json, data, extra]));
  if (config) cpSync(path.join(CHECKPOINTS, 'tiny-sdxl-inpaint.config'), path.join(ck, name.replace(/\.safetensors$/, '.config')), { recursive: true });
  return name;
}

const catalog = new ModelCatalog(scratch.modelsDir, undefined, { compiledDir: scratch.compiledDir });
function errorOf(name: string): NodeError {
  try {
    catalog.get(name);
  } catch (e) {
    expect(e).toBeInstanceOf(NodeError);
    return e as NodeError;
  }
  throw new Error(`${name} loaded`);
}
const compiledLeft = () => (existsSync(scratch.compiledDir) ? readdirSync(scratch.compiledDir) : []);

describe('bad checkpoints', () => {
  it('a truncated file names the tensor that runs past the end', () => {
    writeFileSync(path.join(ck, 'truncated.safetensors'), original.subarray(0, original.length / 2));
    expect(errorOf('truncated.safetensors').message).toMatch(/truncated\.safetensors is not a valid safetensors file: tensor ".*" ends at byte \d+ beyond the data .*truncated/);
  });

  it('a header length beyond the file is refused before parsing', () => {
    const b = Buffer.from(original.subarray(0, 64));
    b.writeBigUInt64LE(10n ** 9n);
    writeFileSync(path.join(ck, 'bighead.safetensors'), b);
    expect(errorOf('bighead.safetensors').message).toMatch(/header length 1000000000 does not fit a 64-byte file/);
  });

  it('overlapping tensors and unknown dtypes are named', () => {
    const keys = Object.keys(header).filter((k) => header[k]!.dtype === 'F32');
    variant('overlap.safetensors', (h) => {
      h[keys[1]!]!.data_offsets = [...h[keys[0]!]!.data_offsets];
      h[keys[1]!]!.shape = [...h[keys[0]!]!.shape];
    });
    expect(errorOf('overlap.safetensors').message).toMatch(/overlap/);
    variant('fp8.safetensors', (h) => (h[keys[0]!]!.dtype = 'F8_E4M3'));
    expect(errorOf('fp8.safetensors').message).toMatch(/unsupported dtype "F8_E4M3"/);
  });

  it('missing keys are named in the file layout, and nothing is left in the compiled folder', () => {
    variant('missing.safetensors', (h) => {
      delete h['model.diffusion_model.out.2.bias'];
      delete h['first_stage_model.decoder.mid.attn_1.q.weight'];
    });
    const e = errorOf('missing.safetensors');
    expect(e.code).toBe('checkpoint_mismatch');
    expect(e.message).toMatch(/model\.diffusion_model\.out\.2\.bias|first_stage_model\.decoder\.mid\.attn_1\.q\.weight/);
    expect(compiledLeft().filter((d) => d.startsWith('missing'))).toEqual([]);
  });

  it('unexpected keys inside a component are named', () => {
    const extra = Buffer.alloc(64);
    variant('extra.safetensors', (h) => (h['model.diffusion_model.input_blocks.99.0.weight'] = { dtype: 'F32', shape: [16], data_offsets: [data.length, data.length + 64] }), extra);
    const e = errorOf('extra.safetensors');
    expect(e.message).toMatch(/tensor\(s\) the configuration has no place for: model\.diffusion_model\.input_blocks\.99\.0\.weight/);
    expect(compiledLeft().filter((d) => d.startsWith('extra'))).toEqual([]);
  });

  it('keys real files carry but no graph reads are ignored (position_ids, logit_scale, EMA copies)', () => {
    const extra = Buffer.alloc(8);
    variant('extras-ok.safetensors', (h) => {
      h['model_ema.decay'] = { dtype: 'F32', shape: [], data_offsets: [data.length, data.length + 4] };
      h['denoiser.sigmas'] = { dtype: 'F32', shape: [1], data_offsets: [data.length + 4, data.length + 8] };
    }, extra);
    expect(catalog.get('extras-ok.safetensors').unetInChannels).toBe(9);
  });

  it('another model family is named', () => {
    variant('sd15.safetensors', (h) => {
      for (const k of Object.keys(h)) if (k.startsWith('conditioner.')) delete h[k];
      h['cond_stage_model.transformer.text_model.final_layer_norm.weight'] = header['conditioner.embedders.0.transformer.text_model.final_layer_norm.weight']!;
      for (const k of Object.keys(h)) if (k.startsWith('model.diffusion_model.label_emb')) delete h[k];
    }, undefined, false);
    expect(errorOf('sd15.safetensors').message).toMatch(/looks like Stable Diffusion 1\.x, not SDXL/);
    variant('flux.safetensors', (h) => (h['model.diffusion_model.double_blocks.0.img_attn.norm.key_norm.scale'] = { dtype: 'F32', shape: [2], data_offsets: [data.length, data.length + 8] }), Buffer.alloc(8), false);
    expect(errorOf('flux.safetensors').message).toMatch(/looks like Flux/);
  });

  it('pickle checkpoints are refused, never unpickled (by extension and by content)', () => {
    writeFileSync(path.join(ck, 'old.ckpt'), Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00]));
    expect(catalog.list().find((m) => m.name === 'old.ckpt')).toMatchObject({ complete: false, error: expect.stringMatching(/pickle checkpoint; maskflow never unpickles/) });
    expect(errorOf('old.ckpt').code).toBe('unsupported_checkpoint');
    writeFileSync(path.join(ck, 'disguised.safetensors'), Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60)]));
    expect(errorOf('disguised.safetensors').message).toMatch(/pickle checkpoint/);
  });

  it('a config folder that contradicts the weights is named with the tensor and both shapes', () => {
    const name = variant('wrongconfig.safetensors', () => {});
    const cfgFile = path.join(ck, 'wrongconfig.config', 'unet', 'config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    cfg.cross_attention_dim = 64;
    writeFileSync(cfgFile, JSON.stringify(cfg));
    const e = errorOf(name);
    expect(e.message).toMatch(/attn2\.to_k\.weight is \[32,56\] but the configuration needs \[32,64\]/);
  });

  it('a non-standard architecture without a config folder asks for one', () => {
    variant('noconfig.safetensors', () => {}, undefined, false);
    expect(errorOf('noconfig.safetensors').message).toMatch(/not the standard SDXL 1\.0 architecture .*put its diffusers config folder at .*noconfig\.config or pass --config DIR/);
  });

  it('the catalogue lists every bad file with its error and keeps working', () => {
    const list = catalog.list();
    expect(list.find((m) => m.name === 'truncated.safetensors')).toMatchObject({ format: 'checkpoint', complete: false, error: expect.any(String) });
    expect(list.find((m) => m.name === SINGLE)).toMatchObject({ format: 'checkpoint', complete: true, kind: 'inpaint' });
    mkdirSync(path.join(scratch.root, 'x'), { recursive: true });
    // The VAE tile sizes come from the compiled VAE config as from an ONNX folder's.
    expect(catalog.get(SINGLE)).toMatchObject({ unetInChannels: 9, vaeTileSampleSize: 1024, vaeTileLatentSize: 128 });
  });
});

describe('bf16 checkpoints', () => {
  it('compile with a cast to float32 and run close to the fp32 model (bf16 keeps 8 bits of mantissa)', async () => {
    // The fixture's fp32 tensors rounded to bfloat16, as a bf16 file would store them.
    const h: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {};
    const parts: Buffer[] = [];
    let off = 0;
    for (const [k, t] of Object.entries(header).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const src = data.subarray(t.data_offsets[0], t.data_offsets[1]);
      let out: Buffer = Buffer.from(src);
      if (t.dtype === 'F32') {
        out = Buffer.alloc(src.length / 2);
        for (let i = 0; i < src.length / 4; i++) out.writeUInt16LE(f32ToBf16(src.readFloatLE(i * 4)), i * 2);
      }
      h[k] = { dtype: t.dtype === 'F32' ? 'BF16' : t.dtype, shape: t.shape, data_offsets: [off, off + out.length] };
      parts.push(out);
      off += out.length;
    }
    const json = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(path.join(ck, 'bf16.bf16.safetensors'), Buffer.concat([len, json, ...parts]));
    cpSync(path.join(CHECKPOINTS, 'tiny-sdxl-inpaint.config'), path.join(ck, 'bf16.config'), { recursive: true });
    const store = storeFor(scratch.modelsDir, scratch.compiledDir);
    const s = await store.getSession({ model: 'bf16.bf16.safetensors', loras: [], embeddings: [] }, 'unet');
    const dir = path.join(FIXTURES, 'components', 'unet_inpaint_b2_16x16_t500_ts1');
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> };
    const feeds: Record<string, Tensor> = noResiduals(s);
    for (const [name, spec] of Object.entries(meta.inputs)) {
      const v = readTensor(dir, spec);
      feeds[name] = v instanceof Float32Array ? floatInput(inputMeta(s, name), v, spec.shape) : numericInput(inputMeta(s, name), Array.from(v as BigInt64Array, Number), spec.shape);
    }
    const out = await s.run(feeds);
    const diff = maxAbsDiff(outputF32(out.out_sample, 'out_sample'), readTensor(dir, meta.outputs.out_sample!) as Float32Array);
    process.stdout.write(`bf16 UNet vs fp32 golden: ${diff}\n`);
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.05);
  });
});
