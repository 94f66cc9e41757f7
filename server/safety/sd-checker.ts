// diffusers' StableDiffusionSafetyChecker ONNX export (inputs clip_input [b,3,224,224] and
// images [b,H,W,3] in [0,1]; outputs out_images and has_nsfw_concepts).
// The export is only correct at batch 1: its `images[has_nsfw] = 0` became a Where whose
// [b] mask broadcasts against the channel axis, so b > 1 fails or blackens the wrong
// channels. We therefore run it per image, as diffusers' ONNX pipeline does.
import type { InferenceSession } from 'onnxruntime-node';
import type { RgbImage } from '../image/types.js';
import { floatInput, inputMeta, outputF32 } from '../models/ort-io.js';
import type { Preprocessed } from './image-processor.js';

export interface SdCheckerOutput {
  nsfw: boolean;
  /** out_images of the model, float [H*W*3] in [0,1] (all zeros when flagged). */
  outImage: Float32Array;
}

export function assertSdCheckerSession(session: InferenceSession, file: string): void {
  for (const name of ['clip_input', 'images']) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`${file} is not a StableDiffusionSafetyChecker export: no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
    }
  }
  if (!session.outputNames.includes('has_nsfw_concepts')) {
    throw new Error(`${file} is not a StableDiffusionSafetyChecker export: no output "has_nsfw_concepts"`);
  }
}

/** The generated image as the checker's `images` input: u8/255 in float32, NHWC. */
export function imageToUnitFloat(img: RgbImage): Float32Array {
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = img.data[i]! / 255;
  return out;
}

function truthy(t: { type: string; data: unknown }, name: string): boolean[] {
  const data = t.data as ArrayLike<number | bigint | boolean>;
  if (!data || typeof data.length !== 'number') throw new Error(`output "${name}" has no data`);
  return Array.from(data, (v) => (typeof v === 'bigint' ? v !== 0n : Boolean(v)));
}

/** One image through the checker (batch 1). */
export async function runSdChecker(session: InferenceSession, clip: Preprocessed, img: RgbImage): Promise<SdCheckerOutput> {
  const feeds = {
    clip_input: floatInput(inputMeta(session, 'clip_input'), clip.data, [1, 3, clip.height, clip.width]),
    images: floatInput(inputMeta(session, 'images'), imageToUnitFloat(img), [1, img.height, img.width, 3]),
  };
  const out = await session.run(feeds);
  const flags = out.has_nsfw_concepts;
  if (!flags) throw new Error('safety checker produced no has_nsfw_concepts');
  const nsfw = truthy(flags, 'has_nsfw_concepts');
  if (nsfw.length !== 1) throw new Error(`safety checker returned ${nsfw.length} flags for one image`);
  const outImage = out.out_images ? outputF32(out.out_images, 'out_images') : new Float32Array(0);
  return { nsfw: nsfw[0]!, outImage };
}
