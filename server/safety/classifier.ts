// A generic image classifier (Optimum image-classification export: pixel_values -> logits).
// Batches when the model's batch axis is dynamic, else runs per image.
import type { InferenceSession } from 'onnxruntime-node';
import { floatInput, inputMeta, outputF32 } from '../models/ort-io.js';
import type { Preprocessed } from './image-processor.js';

/** Images per run when the batch is dynamic: bounds the input tensor at 8·3·224·224 floats. */
export const CLASSIFIER_BATCH = 8;

export function assertClassifierSession(session: InferenceSession, file: string): void {
  if (!session.inputNames.includes('pixel_values')) {
    throw new Error(`${file} is not an image classifier: no input "pixel_values" (inputs: ${session.inputNames.join(', ')})`);
  }
  if (!session.outputNames.includes('logits')) {
    throw new Error(`${file} is not an image classifier: no output "logits" (outputs: ${session.outputNames.join(', ')})`);
  }
}

/** Logits of each preprocessed image, in order. All inputs must share one size. */
export async function classify(session: InferenceSession, inputs: Preprocessed[], signal?: AbortSignal): Promise<Float32Array[]> {
  const meta = inputMeta(session, 'pixel_values');
  const fixedBatch = typeof meta.shape[0] === 'number' ? meta.shape[0] : undefined;
  const chunk = fixedBatch ?? CLASSIFIER_BATCH;
  if (fixedBatch !== undefined && fixedBatch !== 1) throw new Error(`classifier has a fixed batch of ${fixedBatch}; only 1 or dynamic is supported`);
  const results: Float32Array[] = [];
  for (let start = 0; start < inputs.length; start += chunk) {
    signal?.throwIfAborted();
    const part = inputs.slice(start, start + chunk);
    const { width, height } = part[0]!;
    const plane = 3 * width * height;
    const data = new Float32Array(part.length * plane);
    part.forEach((p, i) => {
      if (p.width !== width || p.height !== height) throw new Error('classifier inputs differ in size');
      data.set(p.data, i * plane);
    });
    const out = await session.run({ pixel_values: floatInput(meta, data, [part.length, 3, height, width]) });
    const logits = outputF32(out.logits, 'logits');
    const n = logits.length / part.length;
    if (!Number.isInteger(n)) throw new Error(`classifier returned ${logits.length} logits for ${part.length} images`);
    for (let i = 0; i < part.length; i++) results.push(logits.slice(i * n, (i + 1) * n));
  }
  return results;
}
