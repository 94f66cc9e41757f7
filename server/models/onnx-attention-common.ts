// Shared pieces of the exported-attention matchers (onnx-attention.ts, onnx-attention-sdpa.ts).
import type { OnnxModel, OnnxNode } from './onnx-graph.js';

export interface AttentionMatch {
  q: string;
  k: string;
  v: string;
  heads: number;
  /** MultiHeadAttention's scale; undefined when proven to be its default 1/√(head size). */
  scale?: number;
  /** The data-path nodes; the output Reshape is last. */
  nodes: OnnxNode[];
}

/** What the matchers read of the graph. */
export interface GraphView {
  model: OnnxModel;
  consumers: Map<string, OnnxNode[]>;
}

/** Float element types a Cast inside the pattern may convert between (fp32, fp16, bf16). */
const FLOAT_TYPES = new Set([1, 10, 16]);

export function isFloatCast(n: OnnxNode): boolean {
  return n.opType === 'Cast' && FLOAT_TYPES.has(n.attributes.find((a) => a.name === 'to')?.i ?? -1);
}

/** The single consumer of a single-output node. */
export function onlyConsumer(g: GraphView, n: OnnxNode): OnnxNode | undefined {
  const c = g.consumers.get(n.outputs[0]!) ?? [];
  return c.length === 1 ? c[0] : undefined;
}

/**
 * The one consumer of that op type (other consumers, such as the Shape nodes of the exported
 * size arithmetic, must die with the pattern: removableCone checks).
 */
export function consumerOfType(g: GraphView, n: OnnxNode, opType: string): OnnxNode | undefined {
  const c = (g.consumers.get(n.outputs[0]!) ?? []).filter((x) => x.opType === opType);
  return c.length === 1 ? c[0] : undefined;
}

export function perm(n: OnnxNode): number[] | undefined {
  return n.attributes.find((a) => a.name === 'perm')?.ints;
}

export function allowZero(n: OnnxNode): boolean {
  return (n.attributes.find((a) => a.name === 'allowzero')?.i ?? 0) !== 0;
}

export function sameInts(a: number[] | undefined, b: number[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}
