// LoRA files: grouping tensors into layers, matching layers to the model's modules, and the
// merge W += strength · alpha/rank · up @ down (conv: down flattened to [r, in·kh·kw]).
import { NodeError } from '../engine/errors.js';
import type { SafetensorsFile } from './safetensors.js';
import { keyIndex, splitLoraKey, LORA_COMPONENTS, type LoraComponent, type ModuleAddress } from './lora-keys.js';
import type { ModuleWeight } from './onnx-modules.js';

export interface LoraLayer {
  /** Layer key as written in the file (without the tensor suffix). */
  key: string;
  down?: string;
  up?: string;
  alpha?: string;
}

export interface LoraMatch {
  key: string;
  address: ModuleAddress;
  weight: ModuleWeight;
  down: string;
  up: string;
  alpha?: string;
  rank: number;
}

export interface LoraPlan {
  name: string;
  matches: LoraMatch[];
  /** Tensor / layer keys that map to no module (or a format we do not merge), with why. */
  unmatched: { key: string; reason: string }[];
  perComponent: Record<LoraComponent, number>;
}

export type ComponentModules = Record<LoraComponent, Map<string, ModuleWeight>>;

const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);

/** Groups tensors into layers and matches them against the model's modules (header only, no data read). */
export function planLora(file: SafetensorsFile, name: string, modules: ComponentModules): LoraPlan {
  const layers = new Map<string, LoraLayer>();
  const unmatched: LoraPlan['unmatched'] = [];
  for (const key of file.keys()) {
    const s = splitLoraKey(key);
    if (!s) {
      unmatched.push({ key, reason: /hada_|lokr_|lora_mid|dora_scale|\.diff$|\.diff_b$/.test(key) ? 'unsupported LoRA variant (LoHa/LoKr/Tucker/DoRA/diff)' : 'not a LoRA tensor' });
      continue;
    }
    const l = layers.get(s.layer) ?? { key: s.layer };
    l[s.part] = key;
    layers.set(s.layer, l);
  }
  const index = keyIndex({ unet: modules.unet.keys(), text_encoder: modules.text_encoder.keys(), text_encoder_2: modules.text_encoder_2.keys() });
  const matches: LoraMatch[] = [];
  const perComponent = { unet: 0, text_encoder: 0, text_encoder_2: 0 } as Record<LoraComponent, number>;
  for (const l of layers.values()) {
    const address = index.get(l.key);
    if (!address) {
      unmatched.push({ key: l.key, reason: 'no module of this model has this name' });
      continue;
    }
    if (!l.down || !l.up) {
      unmatched.push({ key: l.key, reason: `layer lacks its ${l.down ? 'up' : 'down'} tensor` });
      continue;
    }
    const weight = modules[address.component].get(address.module)!;
    const down = file.info(l.down).shape;
    const up = file.info(l.up).shape;
    const rank = down[0] ?? 0;
    const why =
      up.length < 2 || rank === 0 || up[1] !== rank
        ? `up ${JSON.stringify(up)} and down ${JSON.stringify(down)} disagree on the rank`
        : prod(up.slice(2)) !== 1
          ? 'up tensors with a spatial kernel are not supported'
          : up[0] !== weight.shape[0] || prod(down.slice(1)) !== prod(weight.shape.slice(1))
            ? `shape up${JSON.stringify(up)} @ down${JSON.stringify(down)} does not fit weight ${JSON.stringify(weight.shape)}`
            : undefined;
    if (why) {
      unmatched.push({ key: l.key, reason: why });
      continue;
    }
    matches.push({ key: l.key, address, weight, down: l.down, up: l.up, alpha: l.alpha, rank });
    perComponent[address.component]++;
  }
  return { name, matches, unmatched, perComponent };
}

/** A plan that matches nothing means the LoRA is for another model family: an error naming the file. */
export function assertLoraMatches(plan: LoraPlan): void {
  if (plan.matches.length) return;
  const sample = plan.unmatched.slice(0, 3).map((u) => u.key).join(', ');
  throw new NodeError(
    'lora_no_match',
    `LoRA "${plan.name}" matches no layer of this model (is it for another architecture?); ${plan.unmatched.length} unmatched keys, e.g. ${sample}`,
    { param: 'lora', file: plan.name },
  );
}

export function summarizePlan(plan: LoraPlan): string {
  const c = plan.perComponent;
  return `${plan.name}: ${plan.matches.length} layers (unet ${c.unet}, text_encoder ${c.text_encoder}, text_encoder_2 ${c.text_encoder_2}), ${plan.unmatched.length} unmatched`;
}

export function componentsOf(plan: LoraPlan): LoraComponent[] {
  return LORA_COMPONENTS.filter((c) => plan.perComponent[c] > 0);
}

/**
 * Adds scale · up @ down to a weight held as float32 in its stored layout. up is [out, r],
 * down [r, inFlat]. Sums run in double and round once, like a float32 matmul then add.
 */
export function addLoraDelta(w: Float32Array, weight: Pick<ModuleWeight, 'layout' | 'shape'>, up: Float32Array, down: Float32Array, rank: number, scale: number): void {
  const out = weight.shape[0]!;
  const inFlat = prod(weight.shape.slice(1));
  if (w.length !== out * inFlat || up.length !== out * rank || down.length !== rank * inFlat) throw new Error('LoRA delta shape mismatch');
  if (weight.layout === 'same') {
    const acc = new Float64Array(inFlat);
    for (let o = 0; o < out; o++) {
      acc.fill(0);
      for (let k = 0; k < rank; k++) {
        const u = up[o * rank + k]!;
        if (u === 0) continue;
        const d0 = k * inFlat;
        for (let i = 0; i < inFlat; i++) acc[i]! += u * down[d0 + i]!;
      }
      const w0 = o * inFlat;
      for (let i = 0; i < inFlat; i++) w[w0 + i] = w[w0 + i]! + scale * acc[i]!;
    }
    return;
  }
  // Stored transposed [in, out]: row i of W holds delta[:, i].
  const upT = new Float64Array(rank * out);
  for (let o = 0; o < out; o++) for (let k = 0; k < rank; k++) upT[k * out + o] = up[o * rank + k]!;
  const acc = new Float64Array(out);
  for (let i = 0; i < inFlat; i++) {
    acc.fill(0);
    for (let k = 0; k < rank; k++) {
      const d = down[k * inFlat + i]!;
      if (d === 0) continue;
      const u0 = k * out;
      for (let o = 0; o < out; o++) acc[o]! += d * upT[u0 + o]!;
    }
    const w0 = i * out;
    for (let o = 0; o < out; o++) w[w0 + o] = w[w0 + o]! + scale * acc[o]!;
  }
}

/** strength · alpha / rank; a missing alpha means alpha = rank (PEFT folds it into up). */
export async function loraScale(file: SafetensorsFile, m: LoraMatch, strength: number): Promise<number> {
  if (!m.alpha) return strength;
  const a = await file.readFloat32(m.alpha);
  if (a.length !== 1 || !Number.isFinite(a[0]!)) throw new NodeError('invalid_lora', `alpha of ${m.key} is not a scalar`);
  return (strength * a[0]!) / m.rank;
}
