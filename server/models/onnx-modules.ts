// Finds the weight initializer of every linear / conv module of an exported model through
// the node names torch.onnx keeps (`/down_blocks.1/attentions.0/.../to_q/MatMul` -> module
// `down_blocks.1.attentions.0....to_q`). Linear weights of MatMul nodes are stored
// transposed ([in, out]) under anonymous names such as `onnx::MatMul_1234`; conv weights
// keep their PyTorch names and layout.
import type { OnnxModel, OnnxNode } from './onnx-graph.js';

export interface ModuleWeight {
  /** PyTorch module path, e.g. `down_blocks.1.resnets.0.conv1`. */
  module: string;
  initializer: string;
  /** 'transposed': stored [in, out] (MatMul, Gemm without transB); 'same': PyTorch layout. */
  layout: 'same' | 'transposed';
  kind: 'linear' | 'conv';
  /** PyTorch shape: [out, in] or [out, in, kh, kw]. */
  shape: number[];
  dataType: number;
}

/** Follows Identity / Cast nodes from a node input back to an initializer. */
function sourceInitializer(model: OnnxModel, value: string): { name: string; transposed: boolean } | undefined {
  let transposed = false;
  for (let hop = 0; hop < 4; hop++) {
    if (model.initializers.has(value)) return { name: value, transposed };
    const p: OnnxNode | undefined = model.producers.get(value);
    if (!p || !p.inputs[0]) return undefined;
    if (p.opType === 'Transpose') transposed = !transposed;
    else if (p.opType !== 'Identity' && p.opType !== 'Cast') return undefined;
    value = p.inputs[0];
  }
  return undefined;
}

function modulePathOf(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const parts = nodeName.slice(1).split('/');
  parts.pop(); // the op itself: MatMul, Conv, Gemm, MatMul_1 ...
  return parts.length ? parts.join('.') : undefined;
}

/** Module path -> weight, for every MatMul / Gemm / Conv whose weight is an initializer. */
export function moduleWeights(model: OnnxModel): Map<string, ModuleWeight> {
  const out = new Map<string, ModuleWeight>();
  const ambiguous = new Set<string>();
  const add = (w: ModuleWeight) => {
    const prev = out.get(w.module);
    if (prev && prev.initializer !== w.initializer) ambiguous.add(w.module);
    else out.set(w.module, w);
  };
  for (const node of model.nodes) {
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm' && node.opType !== 'Conv') continue;
    const module = modulePathOf(node.name);
    if (!module || !node.inputs[1]) continue;
    const src = sourceInitializer(model, node.inputs[1]);
    if (!src) continue;
    const t = model.initializers.get(src.name)!;
    if (node.opType === 'Conv') {
      if (t.dims.length < 3 || src.transposed) continue;
      add({ module, initializer: src.name, layout: 'same', kind: 'conv', shape: [...t.dims], dataType: t.dataType });
      continue;
    }
    if (t.dims.length !== 2) continue;
    const transB = node.opType === 'Gemm' && node.attributes.some((a) => a.name === 'transB' && a.i === 1);
    // MatMul computes x @ W, so W is [in, out] unless a Transpose / transB flips it.
    const transposed = transB ? src.transposed : !src.transposed;
    const [a, b] = t.dims as [number, number];
    add({ module, initializer: src.name, layout: transposed ? 'transposed' : 'same', kind: 'linear', shape: transposed ? [b, a] : [a, b], dataType: t.dataType });
  }
  // Weights that kept their PyTorch names but whose node names did not (other exporters).
  for (const t of model.initializers.values()) {
    const m = /^(.*)\.weight$/.exec(t.name);
    if (!m || out.has(m[1]!) || ambiguous.has(m[1]!)) continue;
    if (t.dims.length === 4) out.set(m[1]!, { module: m[1]!, initializer: t.name, layout: 'same', kind: 'conv', shape: [...t.dims], dataType: t.dataType });
  }
  for (const m of ambiguous) out.delete(m);
  return out;
}

/** Number of modules using each initializer (a shared weight cannot be patched for one module only). */
export function initializerUse(weights: Map<string, ModuleWeight>): Map<string, number> {
  const use = new Map<string, number>();
  for (const w of weights.values()) use.set(w.initializer, (use.get(w.initializer) ?? 0) + 1);
  return use;
}
