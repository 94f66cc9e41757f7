import { beforeAll, expect, it } from 'vitest';
import { planExecution } from '../../server/engine/plan.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import type { Workflow } from '../../server/engine/workflow.js';
import { toyRegistry } from '../helpers/toy-registry.js';

let registry: NodeRegistry;
beforeAll(async () => {
  registry = await toyRegistry();
});

it('plans only ancestors of output nodes, producers before consumers', () => {
  const wf: Workflow = {
    version: 1,
    nodes: {
      out: { type: 'toy/sink', inputs: { value: ['sum', 'sum'] } },
      sum: { type: 'toy/add', inputs: { a: ['c1', 'value'], b: ['c2', 'value'] } },
      unused: { type: 'toy/add', inputs: { a: ['c1', 'value'] } },
      c2: { type: 'toy/constant' },
      c1: { type: 'toy/constant' },
      dangling: { type: 'toy/to-text', inputs: { value: ['c2', 'value'] } },
    },
  };
  const order = planExecution(wf, registry);
  expect(order.sort()).toEqual(['c1', 'c2', 'out', 'sum']);
  const planned = planExecution(wf, registry);
  expect(planned.indexOf('sum')).toBeGreaterThan(planned.indexOf('c1'));
  expect(planned.indexOf('sum')).toBeGreaterThan(planned.indexOf('c2'));
  expect(planned.at(-1)).toBe('out');
});

it('plans several output nodes sharing ancestors once', () => {
  const wf: Workflow = {
    version: 1,
    nodes: {
      c: { type: 'toy/constant' },
      a: { type: 'toy/sink', inputs: { value: ['c', 'value'] } },
      b: { type: 'toy/sink', inputs: { value: ['c', 'value'] } },
    },
  };
  expect(planExecution(wf, registry)).toEqual(['c', 'a', 'b']);
});
