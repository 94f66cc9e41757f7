// Computes the replaced initializers of one component: LoRA deltas added to the affected
// weights (any number of LoRAs, each with its own strength) in float32, then written back in
// the model's dtype (fp16 / bf16 models round once, after all deltas).
import { readInitializerBytes, type OnnxModel } from './onnx-graph.js';
import { jsKernel, type MergeKernel } from './merge-kernel.js';
import type { TensorReplacement } from './onnx-patch.js';
import { loraScale, type LoraPlan } from './lora.js';
import type { LoraComponent } from './lora-keys.js';
import type { SafetensorsFile } from './safetensors.js';

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
  kernel?: MergeKernel,
): AsyncGenerator<[string, TensorReplacement]> {
  const k = kernel ?? jsKernel;
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
    let w = await k.decode(await readInitializerBytes(model, t), t.dataType);
    for (const { app, m } of list) {
      const [up, down, scale] = await Promise.all([app.file.readFloat32(m.up), app.file.readFloat32(m.down), loraScale(app.file, m, app.strength)]);
      w = await k.addDelta(w, m.weight, up, down, m.rank, scale);
      stats.layers++;
    }
    stats.tensors++;
    yield [name, { dims: t.dims, dataType: t.dataType, data: await k.encode(w, t.dataType) }];
  }
}
