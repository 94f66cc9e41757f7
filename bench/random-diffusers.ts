// Writes a random-weight diffusers folder (fp32 safetensors) for a diffusers config folder such
// as ../shared/fixtures/bench-config: UNet and VAE weights are drawn from the shapes of
// maskflow's own graphs (diffusers key names = the graphs' parameter names); the text encoders
// and tokenizers are linked from a folder with the same (tiny) text-encoder configs.
import { cpSync, linkSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { UnetConfig, VaeConfig } from '../server/checkpoints/configs.js';
import { num } from '../server/checkpoints/configs.js';
import { DT } from '../server/checkpoints/graph-builder.js';
import { buildUnetGraph } from '../server/checkpoints/unet-graph.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from '../server/checkpoints/vae-graph.js';
import { writeRandomSafetensors } from './random-safetensors.js';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;

/** Writes `<out>/` as a diffusers folder; returns the weight bytes written. */
export async function writeRandomDiffusersFolder(out: string, configDir: string, textEncodersFrom: string): Promise<number> {
  mkdirSync(out, { recursive: true });
  const unetCfg = readJson(path.join(configDir, 'unet/config.json')) as UnetConfig;
  const vaeCfg = readJson(path.join(configDir, 'vae/config.json')) as VaeConfig;
  const te2 = readJson(path.join(configDir, 'text_encoder_2/config.json'));
  let bytes = 0;
  const unet = buildUnetGraph(unetCfg, { floatType: DT.FLOAT, pooledDim: num(te2.projection_dim, num(te2.hidden_size, 0)) });
  mkdirSync(path.join(out, 'unet'), { recursive: true });
  bytes += await writeRandomSafetensors(path.join(out, 'unet/diffusion_pytorch_model.safetensors'), unet.paramShapes(), 'F32');
  const vae = new Map([...buildVaeEncoderGraph(vaeCfg, DT.FLOAT).paramShapes(), ...buildVaeDecoderGraph(vaeCfg, DT.FLOAT).paramShapes()]);
  mkdirSync(path.join(out, 'vae'), { recursive: true });
  bytes += await writeRandomSafetensors(path.join(out, 'vae/diffusion_pytorch_model.safetensors'), vae, 'F32');
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
