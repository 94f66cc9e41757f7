// Builds workflow JSON in tests: g.add('toy/add', { offset: 1 }, { a: c.out('value') }).
import type { Workflow } from '../../server/engine/workflow.js';

export interface NodeHandle {
  id: string;
  out(name: string): [string, string];
}

export class GraphBuilder {
  private readonly nodes: Workflow['nodes'] = {};
  private readonly publicInputs: NonNullable<Workflow['inputs']> = {};
  private n = 0;

  add(type: string, params: Record<string, unknown> = {}, inputs: Record<string, [string, string]> = {}, id?: string): NodeHandle {
    const nodeId = id ?? `n${++this.n}`;
    this.nodes[nodeId] = { type, params, ...(Object.keys(inputs).length ? { inputs } : {}) };
    return { id: nodeId, out: (name) => [nodeId, name] };
  }

  expose(name: string, node: NodeHandle, param: string): this {
    this.publicInputs[name] = { node: node.id, param };
    return this;
  }

  build(): Workflow {
    return {
      version: 1,
      ...(Object.keys(this.publicInputs).length ? { inputs: structuredClone(this.publicInputs) } : {}),
      nodes: structuredClone(this.nodes),
    };
  }
}
