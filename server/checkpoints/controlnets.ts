// SDXL ControlNets in diffusers format — a folder (config.json + diffusion_pytorch_model
// [.fp16].safetensors) or a single .safetensors file, with `<stem>.config.json` / `<stem>.json`
// beside it or, failing that, a config inferred from the tensor shapes (SDXL's 64-channel
// heads) — compiled to ONNX like checkpoints, cached under <dataDir>/compiled.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NodeError } from '../engine/errors.js';
import type { Logger } from '../log.js';
import { buildControlNetGraph, type ControlNetConfig } from './controlnet-graph.js';
import type { AttentionOptions } from './layers.js';
import { COMPILER_VERSION, linkWeights, MANIFEST, readManifest, writeAtomically } from './compile.js';
import { DT } from './graph-builder.js';
import { componentWeightFiles } from './plan.js';
import { readHeader, type Header } from './read-header.js';
import { MultiSource, PrefixSource } from './weights.js';

export interface ControlNetPlan {
  name: string;
  source: string;
  config: ControlNetConfig;
  configFrom: string;
  headers: Header[];
}

export interface CompiledControlNet {
  name: string;
  dir: string;
  /** path of model.onnx */
  model: string;
  config: ControlNetConfig;
  bytes: number;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new NodeError('controlnet_invalid', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
}

/** The diffusers config of a ControlNet file with no config.json, from its tensor shapes. */
export function inferControlNetConfig(h: Header): ControlNetConfig {
  const t = h.tensors;
  const shape = (k: string) => t.get(k)?.shape;
  const name = path.basename(h.file);
  const convIn = shape('conv_in.weight');
  const addIn = shape('add_embedding.linear_1.weight');
  if (!convIn || !addIn) throw new NodeError('controlnet_invalid', `${name} is not a diffusers SDXL ControlNet (no conv_in / add_embedding tensors)`, { file: name });
  const boc: number[] = [];
  const layers: number[] = [];
  const depth: number[] = [];
  const types: string[] = [];
  for (let i = 0; shape(`down_blocks.${i}.resnets.0.conv1.weight`); i++) {
    boc.push(shape(`down_blocks.${i}.resnets.0.conv1.weight`)![0]!);
    let j = 0;
    while (shape(`down_blocks.${i}.resnets.${j}.conv1.weight`)) j++;
    layers.push(j);
    let d = 0;
    while (shape(`down_blocks.${i}.attentions.0.transformer_blocks.${d}.norm1.weight`)) d++;
    depth.push(Math.max(d, 1));
    types.push(d ? 'CrossAttnDownBlock2D' : 'DownBlock2D');
  }
  const cross = [...t.keys()].find((k) => /attn2\.to_k\.weight$/.test(k));
  const coe: number[] = [shape('controlnet_cond_embedding.conv_in.weight')?.[0] ?? 16];
  for (let b = 1; shape(`controlnet_cond_embedding.blocks.${b}.weight`); b += 2) coe.push(shape(`controlnet_cond_embedding.blocks.${b}.weight`)![0]!);
  let mid = 0;
  while (shape(`mid_block.attentions.0.transformer_blocks.${mid}.norm1.weight`)) mid++;
  return {
    in_channels: convIn[1]!,
    block_out_channels: boc,
    layers_per_block: layers[0] ?? 2,
    down_block_types: types,
    up_block_types: [],
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    // SDXL's heads are 64 channels wide; the weights do not say.
    attention_head_dim: boc.map((c) => Math.max(1, c / 64)),
    transformer_layers_per_block: depth.map((d, i) => (i === depth.length - 1 && mid ? mid : d)),
    cross_attention_dim: cross ? shape(cross)![1]! : 2048,
    addition_embed_type: 'text_time',
    addition_time_embed_dim: 256,
    projection_class_embeddings_input_dim: addIn[1]!,
    norm_num_groups: 32,
    conditioning_channels: shape('controlnet_cond_embedding.conv_in.weight')?.[1] ?? 3,
    conditioning_embedding_out_channels: coe,
    use_linear_projection: true,
  };
}

/** A ControlNet folder or file (already resolved to a local path). */
export function planControlNet(p: string): ControlNetPlan {
  const name = path.basename(p);
  if (!existsSync(p)) throw new NodeError('controlnet_not_found', `ControlNet ${p} does not exist`, { file: name });
  if (statSync(p).isDirectory()) {
    if (!existsSync(path.join(p, 'config.json'))) throw new NodeError('controlnet_invalid', `ControlNet folder ${name} has no config.json`, { file: name });
    const files = componentWeightFiles(p, 'diffusion_pytorch_model');
    return { name, source: p, config: readJson(path.join(p, 'config.json')) as ControlNetConfig, configFrom: `${name}/config.json`, headers: files.map((f) => readHeader(f, `${name}/${path.basename(f)}`)) };
  }
  const header = readHeader(p, name);
  const stem = p.replace(/\.safetensors$/i, '');
  const cfgFile = [`${stem}.config.json`, `${stem}.json`, path.join(path.dirname(p), 'config.json')].find((f) => existsSync(f));
  return cfgFile
    ? { name, source: p, config: readJson(cfgFile) as ControlNetConfig, configFrom: cfgFile, headers: [header] }
    : { name, source: p, config: inferControlNetConfig(header), configFrom: 'inferred from tensor shapes (64-channel heads)', headers: [header] };
}

export function compileControlNet(plan: ControlNetPlan, opts: { outRoot: string; dtype: 'float32' | 'float16'; attention?: AttentionOptions; logger?: Logger }): CompiledControlNet {
  const key = createHash('sha256')
    .update(JSON.stringify({ v: COMPILER_VERSION, dtype: opts.dtype, attention: opts.attention ?? null, source: plan.source, files: plan.headers.map((h) => [h.file, h.size, h.mtimeMs, h.headerHash]), config: plan.config }))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(opts.outRoot, `controlnet-${plan.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${key}`);
  const done = (): CompiledControlNet => ({ name: plan.name, dir, model: path.join(dir, 'model.onnx'), config: plan.config, bytes: readManifest(dir)?.componentBytes.unet ?? 0 });
  if (readManifest(dir)) return done();
  const cfg = plan.config;
  // The ControlNet's text_embeds width: the addition input minus SDXL's 6 time ids.
  const pooledDim = cfg.projection_class_embeddings_input_dim - 6 * cfg.addition_time_embed_dim;
  const t0 = performance.now();
  writeAtomically(dir, (tmp) => {
    const g = buildControlNetGraph(cfg, { floatType: opts.dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT, pooledDim, ...(opts.attention ? { attention: opts.attention } : {}) });
    const source = new MultiSource(plan.headers.map((h) => new PrefixSource(h.file, h.tensors, '', plan.name)), plan.name);
    const rep = g.resolve(source, (f) => path.basename(f), 'controlnet');
    const extra = [...source.keys()].filter((k) => !rep.usedKeys.has(k));
    if (extra.length) throw new NodeError('controlnet_invalid', `${plan.name}: ${extra.length} tensor(s) its configuration has no place for: ${extra.slice(0, 12).join(', ')}`, { unexpected: extra });
    const copied: string[] = [];
    linkWeights(rep.files, tmp, new Map(), copied);
    writeFileSync(path.join(tmp, 'model.onnx'), g.toBytes(`controlnet ${plan.name}`));
    writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(cfg, null, 2));
    writeFileSync(
      path.join(tmp, MANIFEST),
      JSON.stringify({ compilerVersion: COMPILER_VERSION, name: plan.name, source: plan.source, format: 'controlnet', configFrom: plan.configFrom, dtype: opts.dtype, key, componentBytes: { unet: rep.computeBytes }, params: rep.params, copied, compiledAt: new Date().toISOString(), ms: Math.round(performance.now() - t0) }, null, 2),
    );
  });
  opts.logger?.info({ controlnet: plan.name, dir }, 'ControlNet compiled');
  return done();
}

/** The ControlNet fits the UNet it guides: same widths, cross-attention and addition embedding. */
export function assertControlNetFits(cn: { name: string; config: ControlNetConfig }, unet: { name: string; config: Record<string, unknown> }): void {
  const u = unet.config;
  const c = cn.config;
  const problems: string[] = [];
  if (u.cross_attention_dim !== c.cross_attention_dim) problems.push(`cross-attention width ${c.cross_attention_dim} ≠ the UNet's ${String(u.cross_attention_dim)}`);
  if (u.projection_class_embeddings_input_dim !== c.projection_class_embeddings_input_dim) problems.push(`addition embedding input ${c.projection_class_embeddings_input_dim} ≠ the UNet's ${String(u.projection_class_embeddings_input_dim)}`);
  if (JSON.stringify(u.block_out_channels) !== JSON.stringify(c.block_out_channels)) problems.push(`block widths ${JSON.stringify(c.block_out_channels)} ≠ the UNet's ${JSON.stringify(u.block_out_channels)}`);
  if (problems.length) throw new NodeError('controlnet_mismatch', `ControlNet ${cn.name} does not fit model ${unet.name}: ${problems.join('; ')}`, { param: 'controlnet', problems });
}
