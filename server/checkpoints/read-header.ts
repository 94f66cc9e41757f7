// Synchronous safetensors header reading for the catalogue (headers only: a few MB at most),
// with the checks that name what a file really is: a pickle checkpoint is refused before
// anything parses it, and a non-SDXL model family is named.
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { NodeError } from '../engine/errors.js';
import { parseSafetensorsHeader, type TensorInfo } from '../models/safetensors.js';

export interface Header {
  file: string;
  size: number;
  mtimeMs: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** sha256 of the header bytes (part of the compiled-graph cache key). */
  headerHash: string;
}

const PICKLE_EXT = /\.(ckpt|pt|pth|bin|pkl)$/i;
const MAX_HEADER = 100 * 1024 * 1024;

export function refusePickle(file: string, displayName: string): never {
  throw new NodeError(
    'unsupported_checkpoint',
    `${displayName} is a pickle checkpoint; maskflow never unpickles files (loading one can run arbitrary code). Convert it to .safetensors (e.g. with the original tool's "save as safetensors") and use that.`,
    { file: displayName },
  );
}

export function readHeader(file: string, displayName = file): Header {
  if (PICKLE_EXT.test(file)) refusePickle(file, displayName);
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    const head = Buffer.alloc(8);
    if (st.size < 8 || readSync(fd, head, 0, 8, 0) < 8) throw bad(displayName, `file is ${st.size} bytes long (truncated?)`);
    // Pickles: protocol opcode 0x80 0x02-0x05, or torch's zip container.
    if ((head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) || head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) refusePickle(file, displayName);
    const len = Number(head.readBigUInt64LE(0));
    if (len < 2 || len > MAX_HEADER || 8 + len > st.size) throw bad(displayName, `header length ${len} does not fit a ${st.size}-byte file (truncated or not safetensors)`);
    const bytes = Buffer.alloc(len);
    if (readSync(fd, bytes, 0, len, 8) < len) throw bad(displayName, 'header is truncated');
    const { tensors, metadata } = parseSafetensorsHeader(displayName, bytes, 8 + len, st.size);
    return { file, size: st.size, mtimeMs: st.mtimeMs, tensors, metadata, headerHash: createHash('sha256').update(bytes).digest('hex') };
  } finally {
    closeSync(fd);
  }
}

function bad(name: string, why: string): NodeError {
  return new NodeError('invalid_safetensors', `${name} is not a valid safetensors file: ${why}`, { file: name });
}

export type Family = 'sdxl' | 'sdxl-refiner' | 'sd1' | 'sd2' | 'sd3' | 'flux' | 'lora' | 'unknown';

const FAMILY_NAMES: Record<Family, string> = {
  sdxl: 'SDXL',
  'sdxl-refiner': 'the SDXL refiner',
  sd1: 'Stable Diffusion 1.x',
  sd2: 'Stable Diffusion 2.x',
  sd3: 'Stable Diffusion 3',
  flux: 'Flux',
  lora: 'a LoRA (put it in models/loras/)',
  unknown: 'no model family maskflow knows',
};

/** Which model family a single file's keys belong to (ComfyUI's model detection, by key). */
export function detectFamily(keys: Iterable<string>): Family {
  const has = new Set<string>();
  let lora = false;
  for (const k of keys) {
    if (k.includes('lora_') || k.includes('.lora.') || k.endsWith('.alpha')) lora = true;
    const p = /^(model\.diffusion_model\.(?:joint_blocks|double_blocks|label_emb|input_blocks)|double_blocks|conditioner\.embedders\.[01]\.(?:model|transformer)|cond_stage_model\.(?:model|transformer))/.exec(k);
    if (p) has.add(p[1]!);
  }
  if (has.has('model.diffusion_model.double_blocks') || has.has('double_blocks')) return 'flux';
  if (has.has('model.diffusion_model.joint_blocks')) return 'sd3';
  if (has.has('conditioner.embedders.1.model') && has.has('conditioner.embedders.0.transformer')) return 'sdxl';
  if (has.has('conditioner.embedders.0.model') && has.has('model.diffusion_model.label_emb')) return 'sdxl-refiner';
  if (has.has('cond_stage_model.model')) return 'sd2';
  if (has.has('cond_stage_model.transformer') || (has.has('model.diffusion_model.input_blocks') && !has.has('model.diffusion_model.label_emb'))) return 'sd1';
  if (lora) return 'lora';
  return 'unknown';
}

export function familyName(f: Family): string {
  return FAMILY_NAMES[f];
}
