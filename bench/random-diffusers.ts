// Writes a random-weight diffusers folder (fp32 safetensors) for a diffusers config folder such
// as ../shared/fixtures/bench-config: UNet and VAE weights are drawn from the shapes of
// maskflow's own graphs (diffusers key names = the graphs' parameter names); the text encoders
// and tokenizers are linked from a folder with the same (tiny) text-encoder configs.
import { cpSync, linkSync, mkdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { UnetConfig, VaeConfig } from '../server/checkpoints/configs.js';
import { num } from '../server/checkpoints/configs.js';
import { DT } from '../server/checkpoints/graph-builder.js';
import { buildUnetGraph } from '../server/checkpoints/unet-graph.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from '../server/checkpoints/vae-graph.js';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;

async function writeRandomSafetensors(file: string, layout: Map<string, number[]>): Promise<number> {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [k, shape] of [...layout].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const n = shape.reduce((a, b) => a * b, 1) * 4;
    header[k] = { dtype: 'F32', shape, data_offsets: [off, off + n] };
    off += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  const head = Buffer.concat([Buffer.alloc(8), json, Buffer.alloc(pad, 0x20)]);
  head.writeBigUInt64LE(BigInt(json.length + pad));
  // Normal(0, 0.02)-ish floats (Box-Muller), reused cyclically.
  const pool = new Float32Array(4 * 2 ** 20);
  for (let i = 0; i < pool.length; i++) pool[i] = 0.02 * Math.sqrt(-2 * Math.log(Math.random() || 1e-9)) * Math.cos(2 * Math.PI * Math.random());
  const bytes = Buffer.from(pool.buffer);
  const fh = await open(file, 'w');
  try {
    await fh.write(head);
    for (let left = off; left > 0; ) {
      const n = Math.min(left, bytes.length);
      await fh.write(bytes, 0, n);
      left -= n;
    }
  } finally {
    await fh.close();
  }
  return head.length + off;
}

/** Writes `<out>/` as a diffusers folder; returns the weight bytes written. */
export async function writeRandomDiffusersFolder(out: string, configDir: string, textEncodersFrom: string): Promise<number> {
  mkdirSync(out, { recursive: true });
  const unetCfg = readJson(path.join(configDir, 'unet/config.json')) as UnetConfig;
  const vaeCfg = readJson(path.join(configDir, 'vae/config.json')) as VaeConfig;
  const te2 = readJson(path.join(configDir, 'text_encoder_2/config.json'));
  let bytes = 0;
  const unet = buildUnetGraph(unetCfg, { floatType: DT.FLOAT, pooledDim: num(te2.projection_dim, num(te2.hidden_size, 0)) });
  mkdirSync(path.join(out, 'unet'), { recursive: true });
  bytes += await writeRandomSafetensors(path.join(out, 'unet/diffusion_pytorch_model.safetensors'), new Map(unet.paramShapes()));
  const vae = new Map([...buildVaeEncoderGraph(vaeCfg, DT.FLOAT).paramShapes(), ...buildVaeDecoderGraph(vaeCfg, DT.FLOAT).paramShapes()]);
  mkdirSync(path.join(out, 'vae'), { recursive: true });
  bytes += await writeRandomSafetensors(path.join(out, 'vae/diffusion_pytorch_model.safetensors'), vae);
  for (const f of ['model_index.json', 'unet/config.json', 'vae/config.json', 'scheduler/scheduler_config.json'])
    cpSync(path.join(configDir, f), path.join(out, f), { recursive: true });
  for (const c of ['text_encoder', 'text_encoder_2']) {
    mkdirSync(path.join(out, c), { recursive: true });
    cpSync(path.join(configDir, c, 'config.json'), path.join(out, c, 'config.json'));
    linkSync(path.join(textEncodersFrom, c, 'model.safetensors'), path.join(out, c, 'model.safetensors'));
  }
  for (const t of ['tokenizer', 'tokenizer_2']) cpSync(path.join(textEncodersFrom, t), path.join(out, t), { recursive: true });
  return bytes;
}
