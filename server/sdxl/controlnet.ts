// ControlNet guidance in the sampling loop, as diffusers' SDXL ControlNet pipelines do it
// (fixtures README §10.3): the control image is resized to the working size (PIL Lanczos,
// only when the size differs) and scaled to [0, 1]; every step each ControlNet sees the
// scaled 4-channel latents of the whole CFG batch, the UNet's text conditioning and time ids,
// and conditioning_scale = scale × keep (keep = 0 outside [start, end] of the steps run);
// the residuals of several ControlNets are summed (MultiControlNet) and fed to the UNet.
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { NodeError } from '../engine/errors.js';
import type { Mask, RgbImage } from '../image/types.js';
import { floatInput, inputMeta, outputF32 } from '../models/ort-io.js';
import { pilResize } from '../safety/pil-resize.js';
import { MID_RESIDUAL, residualInput } from '../checkpoints/unet-graph.js';
import { assertControlNetFits } from '../checkpoints/controlnets.js';
import type { ModelInfo } from '../models/catalog.js';
import type { ModelStore } from '../models/model-store.js';

export interface ControlNetRef {
  /** Local path of the ControlNet folder or file (resolved from a name, upload or URL). */
  path: string;
  name: string;
  sha256?: string;
}

/** One ControlNet applied with one control image (the CONTROL port carries a list: MultiControlNet). */
export interface ControlApplication {
  controlnet: ControlNetRef;
  image: RgbImage;
  /** Inpaint control: pixels where the mask is > 0.5 are set to -1 (inpainting ControlNets). */
  mask?: Mask;
  /** controlnet_conditioning_scale */
  scale: number;
  /** control_guidance_start / _end as fractions of the steps run. */
  start: number;
  end: number;
}

declare module '../engine/ports.js' {
  interface PortValueMap {
    CONTROLNET: ControlNetRef;
    CONTROL: ControlApplication[];
  }
}

/** [1,3,H,W] in [0,1] (diffusers' control_image_processor; -1 where an inpaint mask is set). */
export function prepareControlImage(image: RgbImage, width: number, height: number, mask?: Mask): Float32Array {
  const w = Math.floor(width / 8) * 8;
  const h = Math.floor(height / 8) * 8;
  const src = image.width === w && image.height === h ? image : pilResize(image, w, h, 'lanczos');
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = src.data[p * 3 + c]! / 255;
  if (mask) {
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        // Nearest sample of the mask at the working size.
        const m = mask.data[Math.min(mask.height - 1, Math.floor((y * mask.height) / h)) * mask.width + Math.min(mask.width - 1, Math.floor((x * mask.width) / w))]!;
        if (m > 0.5) for (let c = 0; c < 3; c++) out[c * plane + y * w + x] = -1;
      }
  }
  return out;
}

/** diffusers' controlnet_keep: 1 inside the guidance window, 0 outside (strict > at the end). */
export function controlKeep(step: number, steps: number, start: number, end: number): number {
  return 1 - Number(step / steps < start || (step + 1) / steps > end);
}

export function validateWindow(start: number, end: number, param = 'start'): void {
  if (!(start >= 0 && end <= 1 && start < end)) throw new NodeError('invalid_param', `ControlNet window start ${start} / end ${end}: need 0 ≤ start < end ≤ 1`, { param });
}

export interface LoadedControl {
  session: InferenceSession;
  app: ControlApplication;
  /** [rows,3,H,W] control image tensor (CFG-duplicated), built once. */
  cond: Tensor;
}

/** Runs every ControlNet active at this step and returns the UNet's residual feeds (summed). */
export async function controlResiduals(
  unet: InferenceSession,
  controls: LoadedControl[],
  feeds: { sample: Tensor; timestep: Tensor; encoder_hidden_states: Tensor; text_embeds: Tensor; time_ids: Tensor },
  step: number,
  steps: number,
): Promise<Record<string, Tensor>> {
  const outputs: Record<string, Tensor>[] = [];
  for (const c of controls) {
    const scale = Math.fround(c.app.scale * controlKeep(step, steps, c.app.start, c.app.end));
    // Outside its window a ControlNet contributes exactly zero: skipping it is the same result.
    if (scale === 0) continue;
    const s = c.session;
    outputs.push(await s.run({ ...feeds, controlnet_cond: c.cond, conditioning_scale: floatInput(inputMeta(s, 'conditioning_scale'), Float32Array.of(scale), [1]) }));
  }
  const rename = (name: string) => (name === 'mid_block_res_sample' ? MID_RESIDUAL : residualInput(Number(name.split('.').pop())));
  // One ControlNet: its output tensors go to the UNet as they are.
  if (outputs.length <= 1) return Object.fromEntries(Object.entries(outputs[0] ?? {}).map(([n, t]) => [rename(n), t]));
  const summed: Record<string, Tensor> = {};
  for (const [name, first] of Object.entries(outputs[0]!)) {
    const sum = outputF32(first, name).slice();
    for (const out of outputs.slice(1)) {
      const data = outputF32(out[name], name);
      for (let i = 0; i < sum.length; i++) sum[i] = Math.fround(sum[i]! + data[i]!);
    }
    summed[rename(name)] = floatInput(inputMeta(unet, rename(name)), sum, first.dims);
  }
  return summed;
}

/** Loads (compiles) every ControlNet of a run, checks it fits the UNet, and builds its control tensor. */
export async function loadControls(store: ModelStore, info: ModelInfo, unet: InferenceSession, apps: ControlApplication[], rows: number, width: number, height: number): Promise<LoadedControl[]> {
  if (!unet.inputNames.includes(MID_RESIDUAL))
    throw new NodeError(
      'controlnet_unsupported',
      `"${info.name}" is an ONNX export without ControlNet inputs; ControlNets need a model maskflow compiled itself (a .safetensors checkpoint or a diffusers folder)`,
      { input: 'control' },
    );
  const out: LoadedControl[] = [];
  for (const app of apps) {
    validateWindow(app.start, app.end);
    const cn = await store.controlNet(app.controlnet.path);
    assertControlNetFits(cn, { name: info.name, config: info.unetConfig });
    const one = prepareControlImage(app.image, width, height, app.mask);
    const all = new Float32Array(rows * one.length);
    for (let r = 0; r < rows; r++) all.set(one, r * one.length);
    const cond = floatInput(inputMeta(cn.session, 'controlnet_cond'), all, [rows, 3, Math.floor(height / 8) * 8, Math.floor(width / 8) * 8]);
    out.push({ session: cn.session, app, cond });
  }
  return out;
}
