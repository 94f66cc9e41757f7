// LoRA key naming. Keys are matched by enumerating the model's module paths and spelling
// each one in every supported convention (kohya with diffusers or original SGM block names,
// diffusers/PEFT), never by splitting a key on '_' (module names contain '_' themselves).

export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';
export const LORA_COMPONENTS: readonly LoraComponent[] = ['unet', 'text_encoder', 'text_encoder_2'];

export interface ModuleAddress {
  component: LoraComponent;
  module: string;
}

const RESNET_SGM: Record<string, string> = {
  norm1: 'in_layers.0',
  conv1: 'in_layers.2',
  time_emb_proj: 'emb_layers.1',
  norm2: 'out_layers.0',
  conv2: 'out_layers.3',
  conv_shortcut: 'skip_connection',
};

const FIXED_SGM: Record<string, string> = {
  conv_in: 'input_blocks.0.0',
  'time_embedding.linear_1': 'time_embed.0',
  'time_embedding.linear_2': 'time_embed.2',
  'add_embedding.linear_1': 'label_emb.0.0',
  'add_embedding.linear_2': 'label_emb.0.2',
  conv_norm_out: 'out.0',
  conv_out: 'out.2',
};

/**
 * diffusers UNet module path -> original SGM (Stability generative-models / ldm) path, with
 * block numbering derived from the modules the model actually has (layers per block,
 * which blocks have attentions, down/upsamplers), as kohya's and ComfyUI's converters do.
 */
export function sgmNameMap(unetModules: Iterable<string>): Map<string, string> {
  const mods = [...unetModules];
  const count = (re: RegExp) => {
    const per = new Map<number, number>();
    for (const m of mods) {
      const r = re.exec(m);
      if (r) per.set(Number(r[1]), Math.max(per.get(Number(r[1])) ?? 0, Number(r[2]) + 1));
    }
    return per;
  };
  const has = (prefix: string) => mods.some((m) => m.startsWith(prefix));
  const downRes = count(/^down_blocks\.(\d+)\.resnets\.(\d+)\./);
  const upRes = count(/^up_blocks\.(\d+)\.resnets\.(\d+)\./);
  const blockPrefix = new Map<string, string>(); // diffusers block prefix -> sgm prefix
  let idx = 1;
  const nDown = Math.max(-1, ...downRes.keys()) + 1;
  for (let i = 0; i < nDown; i++) {
    for (let j = 0; j < (downRes.get(i) ?? 0); j++) {
      blockPrefix.set(`down_blocks.${i}.resnets.${j}`, `input_blocks.${idx}.0`);
      blockPrefix.set(`down_blocks.${i}.attentions.${j}`, `input_blocks.${idx}.1`);
      idx++;
    }
    if (has(`down_blocks.${i}.downsamplers.0.`)) {
      blockPrefix.set(`down_blocks.${i}.downsamplers.0.conv`, `input_blocks.${idx}.0.op`);
      idx++;
    }
  }
  blockPrefix.set('mid_block.resnets.0', 'middle_block.0');
  blockPrefix.set('mid_block.attentions.0', 'middle_block.1');
  blockPrefix.set('mid_block.resnets.1', 'middle_block.2');
  idx = 0;
  const nUp = Math.max(-1, ...upRes.keys()) + 1;
  for (let i = 0; i < nUp; i++) {
    const n = upRes.get(i) ?? 0;
    for (let j = 0; j < n; j++) {
      blockPrefix.set(`up_blocks.${i}.resnets.${j}`, `output_blocks.${idx}.0`);
      blockPrefix.set(`up_blocks.${i}.attentions.${j}`, `output_blocks.${idx}.1`);
      if (j === n - 1 && has(`up_blocks.${i}.upsamplers.0.`)) {
        const slot = has(`up_blocks.${i}.attentions.`) ? 2 : 1;
        blockPrefix.set(`up_blocks.${i}.upsamplers.0.conv`, `output_blocks.${idx}.${slot}.conv`);
      }
      idx++;
    }
  }
  const out = new Map<string, string>();
  for (const m of mods) {
    if (FIXED_SGM[m]) {
      out.set(m, FIXED_SGM[m]);
      continue;
    }
    const r = /^((?:down|up)_blocks\.\d+\.(?:resnets|attentions)\.\d+|mid_block\.(?:resnets|attentions)\.\d+|(?:down|up)_blocks\.\d+\.(?:down|up)samplers\.0\.conv)(?:\.(.*))?$/.exec(m);
    const prefix = r && blockPrefix.get(r[1]!);
    if (!r || !prefix) continue;
    const rest = r[2];
    if (rest === undefined) out.set(m, prefix);
    else if (r[1]!.includes('.resnets.')) {
      if (RESNET_SGM[rest]) out.set(m, `${prefix}.${RESNET_SGM[rest]}`);
    } else out.set(m, `${prefix}.${rest}`);
  }
  return out;
}

const us = (p: string) => p.replaceAll('.', '_');

/** Every spelling of every module -> its address (layer keys without the tensor suffix). */
export function keyIndex(modules: Record<LoraComponent, Iterable<string>>): Map<string, ModuleAddress> {
  const index = new Map<string, ModuleAddress>();
  const put = (key: string, a: ModuleAddress) => {
    if (!index.has(key)) index.set(key, a);
  };
  const unet = [...modules.unet];
  const sgm = sgmNameMap(unet);
  for (const module of unet) {
    const a: ModuleAddress = { component: 'unet', module };
    put(`lora_unet_${us(module)}`, a);
    put(`unet.${module}`, a);
    put(`unet.base_model.model.${module}`, a);
    const s = sgm.get(module);
    if (s) {
      put(`lora_unet_${us(s)}`, a);
      put(`diffusion_model.${s}`, a);
    }
  }
  for (const module of modules.text_encoder) {
    const a: ModuleAddress = { component: 'text_encoder', module };
    put(`lora_te1_${us(module)}`, a);
    put(`lora_te_${us(module)}`, a);
    put(`text_encoder.${module}`, a);
  }
  for (const module of modules.text_encoder_2) {
    const a: ModuleAddress = { component: 'text_encoder_2', module };
    put(`lora_te2_${us(module)}`, a);
    put(`text_encoder_2.${module}`, a);
  }
  return index;
}

export type LoraPart = 'down' | 'up' | 'alpha';

/** Tensor-name suffixes of the supported formats (longest first). */
const SUFFIXES: [string, LoraPart][] = [
  ['.lora_down.weight', 'down'],
  ['.lora_up.weight', 'up'],
  ['.lora_A.default.weight', 'down'],
  ['.lora_B.default.weight', 'up'],
  ['.lora_A.weight', 'down'],
  ['.lora_B.weight', 'up'],
  ['.lora.down.weight', 'down'],
  ['.lora.up.weight', 'up'],
  ['.down.weight', 'down'],
  ['.up.weight', 'up'],
  ['.alpha', 'alpha'],
];

/** Splits a tensor name into its layer key and part; undefined for formats we do not merge. */
export function splitLoraKey(name: string): { layer: string; part: LoraPart } | undefined {
  for (const [suffix, part] of SUFFIXES) {
    if (name.endsWith(suffix)) return { layer: normalizeLayerKey(name.slice(0, -suffix.length)), part };
  }
  return undefined;
}

/** Old diffusers attention-processor keys (`attn1.processor.to_q_lora`) -> module paths. */
function normalizeLayerKey(layer: string): string {
  return layer
    .replace(/\.processor\.(to_[qkv])_lora$/, '.$1')
    .replace(/\.processor\.to_out_lora$/, '.to_out.0')
    .replace(/\.lora_linear_layer$/, '');
}
