// Planning: only the ancestors of output nodes run, in a topological order that
// follows the file's node order where the graph leaves a choice.
import type { NodeRegistry } from './registry.js';
import type { Workflow } from './workflow.js';

export function planExecution(wf: Workflow, registry: NodeRegistry): string[] {
  const needed = new Set<string>();
  const want = (id: string): void => {
    if (needed.has(id)) return;
    needed.add(id);
    for (const [src] of Object.values(wf.nodes[id]?.inputs ?? {})) want(src);
  };
  for (const [id, node] of Object.entries(wf.nodes)) if (registry.get(node.type)?.output) want(id);

  const order: string[] = [];
  const placed = new Set<string>();
  const ids = Object.keys(wf.nodes).filter((id) => needed.has(id));
  while (order.length < ids.length) {
    const next = ids.find((id) => !placed.has(id) && Object.values(wf.nodes[id]!.inputs ?? {}).every(([src]) => placed.has(src)));
    if (next === undefined) throw new Error('workflow has a cycle'); // validation reports it first
    placed.add(next);
    order.push(next);
  }
  return order;
}
