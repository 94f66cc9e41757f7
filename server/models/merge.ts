// Computes the replaced initializers of one component: LoRA deltas added to the affected
// weights (any number of LoRAs, each with its own strength) in float32, then written back in
// the model's dtype (fp16 / bf16 models round once, after all deltas).
import { DT_BFLOAT16, DT_DOUBLE, DT_FLOAT, DT_FLOAT16, decodeFloat32, readInitializerBytes, type OnnxModel } from './onnx-graph.js';
import type { TensorReplacement } from './onnx-patch.js';
import { addLoraDelta, loraScale, type LoraPlan } from './lora.js';
import type { LoraComponent } from './lora-keys.js';
import type { SafetensorsFile } from './safetensors.js';
import { f32ToBf16, f32ToF16 } from './half.js';

export interface LoraApplication {
  file: SafetensorsFile;
  plan: LoraPlan;
  strength: number;
}

export interface MergeStats {
  layers: number;
  tensors: number;
  /** Initializers used by several modules: patching them would change the others too, so they are skipped. */
  skippedShared: string[];
}

export function encodeFloat32(values: Float32Array, dataType: number): Uint8Array {
  switch (dataType) {
    case DT_FLOAT:
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case DT_FLOAT16:
    case DT_BFLOAT16: {
      const out = new Uint16Array(values.length);
      const conv = dataType === DT_FLOAT16 ? f32ToF16 : f32ToBf16;
      for (let i = 0; i < values.length; i++) out[i] = conv(values[i]!);
      return new Uint8Array(out.buffer);
    }
    case DT_DOUBLE:
      return new Uint8Array(Float64Array.from(values).buffer);
    default:
      throw new Error(`cannot encode data type ${dataType}`);
  }
}

/**
 * Yields [initializer name, merged tensor] one at a time, so a caller can stream them to disk
 * and hold one weight in memory, or collect them.
 */
export async function* mergeLoras(
  model: OnnxModel,
  component: LoraComponent,
  loras: LoraApplication[],
  stats: MergeStats = { layers: 0, tensors: 0, skippedShared: [] },
  initializerUse?: Map<string, number>,
): AsyncGenerator<[string, TensorReplacement]> {
  const byInit = new Map<string, { app: LoraApplication; m: LoraPlan['matches'][number] }[]>();
  for (const app of loras) {
    if (app.strength === 0) continue;
    for (const m of app.plan.matches) {
      if (m.address.component !== component) continue;
      if ((initializerUse?.get(m.weight.initializer) ?? 1) > 1) {
        if (!stats.skippedShared.includes(m.weight.initializer)) stats.skippedShared.push(m.weight.initializer);
        continue;
      }
      const list = byInit.get(m.weight.initializer) ?? [];
      list.push({ app, m });
      byInit.set(m.weight.initializer, list);
    }
  }
  for (const [name, list] of byInit) {
    const t = model.initializers.get(name)!;
    const w = decodeFloat32(await readInitializerBytes(model, t), t.dataType);
    for (const { app, m } of list) {
      const [up, down, scale] = await Promise.all([app.file.readFloat32(m.up), app.file.readFloat32(m.down), loraScale(app.file, m, app.strength)]);
      addLoraDelta(w, m.weight, up, down, m.rank, scale);
      stats.layers++;
    }
    stats.tensors++;
    yield [name, { dims: t.dims, dataType: t.dataType, data: encodeFloat32(w, t.dataType) }];
  }
}
