import { beforeAll, describe, expect, it } from 'vitest';
import type { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import { GraphBuilder } from '../helpers/graph-builder.js';
import { toyRegistry } from '../helpers/toy-registry.js';

let registry: NodeRegistry;
beforeAll(async () => {
  registry = await toyRegistry();
});

const codes = (wf: unknown, inputs?: Record<string, unknown>) =>
  validateWorkflow(wf, registry, { inputs }).problems.map((p) => `${p.code}@${p.path}`).sort();

describe('validateWorkflow', () => {
  it('accepts a valid graph and fills param defaults', () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant', { value: 3 });
    g.add('toy/sink', {}, { value: c.out('value') }, 'out');
    const { problems, resolved } = validateWorkflow(g.build(), registry);
    expect(problems).toEqual([]);
    expect(resolved!.nodes.out!.params).toEqual({ label: 'result' });
  });

  it('rejects a malformed document with invalid_workflow', () => {
    expect(codes({ version: 2, nodes: {} })).toContain('invalid_workflow@version');
    expect(codes({ version: 1 })).toContain('invalid_workflow@nodes');
    expect(codes({ version: 1, nodes: { a: { type: 'toy/constant', inputs: { x: ['b'] } } } })[0]).toMatch(/^invalid_workflow@nodes\.a\.inputs\.x/);
  });

  it('reports every problem at once, each with node and path', () => {
    const wf = {
      version: 1,
      inputs: { seed: { node: 'ghost', param: 'x' }, offset: { node: 'add', param: 'nope' } },
      nodes: {
        c: { type: 'toy/constant', params: { value: 'not a number' } },
        u: { type: 'toy/unknown' },
        add: { type: 'toy/add', inputs: { b: ['c', 'value'], z: ['c', 'value'] } },
        txt: { type: 'toy/to-text', inputs: { value: ['missing', 'value'] } },
        bad: { type: 'toy/add', inputs: { a: ['c', 'nothing'] } },
        mism: { type: 'toy/add', inputs: { a: ['t2', 'text'] } },
        t2: { type: 'toy/to-text', inputs: { value: ['c', 'value'] } },
        out: { type: 'toy/sink', inputs: { value: ['add', 'sum'] } },
      },
    };
    expect(codes(wf, { nosuch: 1 })).toEqual(
      [
        'invalid_param@nodes.c.params.value',
        'unknown_node_type@nodes.u.type',
        'missing_input@nodes.add.inputs.a',
        'unknown_input@nodes.add.inputs.z',
        'unknown_link_node@nodes.txt.inputs.value',
        'unknown_link_output@nodes.bad.inputs.a',
        'type_mismatch@nodes.mism.inputs.a',
        'invalid_public_input@inputs.seed',
        'invalid_public_input@inputs.offset',
        'unknown_public_input@inputs.nosuch',
      ].sort(),
    );
    const p = validateWorkflow(wf, registry).problems.find((x) => x.code === 'type_mismatch')!;
    expect(p.nodeId).toBe('mism');
    expect(p.message).toContain('expects INT');
  });

  it('detects cycles', () => {
    const wf = {
      version: 1,
      nodes: {
        a: { type: 'toy/add', inputs: { a: ['b', 'sum'] } },
        b: { type: 'toy/add', inputs: { a: ['a', 'sum'] } },
        out: { type: 'toy/sink', inputs: { value: ['a', 'sum'] } },
      },
    };
    const problems = validateWorkflow(wf, registry).problems;
    expect(problems.map((p) => p.code)).toEqual(['cycle']);
    expect(problems[0]!.message).toMatch(/a -> b -> a|b -> a -> b/);
  });

  it('requires an output node', () => {
    expect(codes({ version: 1, nodes: { c: { type: 'toy/constant' } } })).toEqual(['no_output_nodes@nodes']);
  });

  it('validates public input values as params and names the input', () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant', { value: 1 });
    const add = g.add('toy/add', {}, { a: c.out('value') });
    g.add('toy/sink', {}, { value: add.out('sum') });
    g.expose('offset', add, 'offset');
    const wf = g.build();
    expect(codes(wf, { offset: 5000 })).toEqual(['invalid_param@inputs.offset']);
    const { resolved } = validateWorkflow(wf, registry, { inputs: { offset: 7 } });
    expect(resolved!.nodes[add.id]!.params).toEqual({ offset: 7 });
  });

  it('limits the node count', () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant');
    g.add('toy/sink', {}, { value: c.out('value') });
    expect(validateWorkflow(g.build(), registry, { maxNodes: 1 }).problems.map((p) => p.code)).toEqual(['too_many_nodes']);
  });
});
