import { beforeAll, describe, expect, it } from 'vitest';
import { OutputCache } from '../../server/engine/cache.js';
import type { RunEvent } from '../../server/engine/events.js';
import { RunFailure } from '../../server/engine/executor.js';
import type { NodeRegistry } from '../../server/engine/registry.js';
import { validateWorkflow } from '../../server/engine/validate.js';
import type { Workflow } from '../../server/engine/workflow.js';
import { GraphBuilder } from '../helpers/graph-builder.js';
import { toyExecutor, toyRegistry } from '../helpers/toy-registry.js';

let registry: NodeRegistry;
beforeAll(async () => {
  registry = await toyRegistry();
});

function resolve(wf: Workflow, inputs?: Record<string, unknown>): Workflow {
  const r = validateWorkflow(wf, registry, { inputs });
  expect(r.problems).toEqual([]);
  return r.resolved!;
}

/** constant(a) ─┐
 *               add ─ slow(seed) ─ sink
 *  constant(b) ─┘         └─ to-text (not planned: no output below it) */
function pipeline(): Workflow {
  const g = new GraphBuilder();
  const a = g.add('toy/constant', { value: 2 }, {}, 'a');
  const b = g.add('toy/constant', { value: 3 }, {}, 'b');
  const add = g.add('toy/add', {}, { a: a.out('value'), b: b.out('value') }, 'add');
  const slow = g.add('toy/slow', { steps: 3, ms: 1 }, { value: add.out('sum') }, 'slow');
  g.add('toy/to-text', {}, { value: slow.out('value') }, 'text');
  g.add('toy/sink', {}, { value: slow.out('value') }, 'out');
  g.expose('seed', slow, 'seed');
  g.expose('b', b, 'value');
  return g.build();
}

describe('Executor', () => {
  it('runs the plan and reports output node results and events in order', async () => {
    const events: RunEvent[] = [];
    const r = await toyExecutor(registry).run(resolve(pipeline()), { runId: 'r', emit: (e) => events.push(e) });
    expect(r.outputs).toEqual({ out: { result: 5 } });
    expect(r.executed).toEqual(['a', 'b', 'add', 'slow', 'out']);
    const progress = events.filter((e) => e.type === 'node:progress');
    expect(progress.map((e) => (e.type === 'node:progress' ? `${e.nodeId}:${e.done}/${e.total}` : ''))).toEqual(['slow:1/3', 'slow:2/3', 'slow:3/3']);
    expect(events[0]!.type).toBe('run:start');
    expect(events.filter((e) => e.type === 'node:start').map((e) => (e as { nodeId: string }).nodeId)).toEqual(r.executed);
  });

  it('re-executes only the nodes downstream of a changed param', async () => {
    const exec = toyExecutor(registry, new OutputCache(1 << 20));
    const first = await exec.run(resolve(pipeline(), { seed: 1 }), { runId: 'r1' });
    expect(first.cached).toEqual([]);
    const second = await exec.run(resolve(pipeline(), { seed: 2 }), { runId: 'r2' });
    expect(second.cached).toEqual(['a', 'b', 'add']);
    expect(second.executed).toEqual(['slow', 'out']);
    expect(second.outputs).toEqual({ out: { result: 7 } });
    const third = await exec.run(resolve(pipeline(), { seed: 2, b: 4 }), { runId: 'r3' });
    expect(third.cached).toEqual(['a']);
    expect(third.executed).toEqual(['b', 'add', 'slow', 'out']);
    const same = await exec.run(resolve(pipeline(), { seed: 2, b: 4 }), { runId: 'r4' });
    expect(same.executed).toEqual([]);
    expect(same.outputs).toEqual({ out: { result: 8 } });
  });

  it('never caches a node that opts out, nor its dependants', async () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant', {}, {}, 'c');
    const blk = g.add('toy/block', { ms: 0 }, { value: c.out('value') }, 'blk');
    g.add('toy/sink', {}, { value: blk.out('value') }, 'out');
    const exec = toyExecutor(registry);
    await exec.run(resolve(g.build()), { runId: 'x1' });
    const again = await exec.run(resolve(g.build()), { runId: 'x2' });
    expect(again.cached).toEqual(['c']);
    expect(again.executed).toEqual(['blk', 'out']);
  });

  it('cancels mid-node and between nodes', async () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant', {}, {}, 'c');
    const slow = g.add('toy/slow', { steps: 50, ms: 10 }, { value: c.out('value') }, 'slow');
    g.add('toy/sink', {}, { value: slow.out('value') }, 'out');
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const run = toyExecutor(registry).run(resolve(g.build()), {
      runId: 'c',
      signal: controller.signal,
      emit: (e) => {
        events.push(e);
        if (e.type === 'node:progress' && e.done === 3) controller.abort();
      },
    });
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailure);
    expect((err as RunFailure).cancelled).toBe(true);
    expect((err as RunFailure).nodeId).toBe('slow');
    expect(events.filter((e) => e.type === 'node:progress').length).toBeLessThan(6);
    expect(events.some((e) => e.type === 'node:done' && e.nodeId === 'out')).toBe(false);
  });

  it('carries the node id, type and stable code of a failure', async () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant', {}, {}, 'c');
    const f = g.add('toy/fail', { code: 'bad_thing' }, { value: c.out('value') }, 'boom');
    g.add('toy/sink', {}, { value: f.out('value') }, 'out');
    const err = (await toyExecutor(registry)
      .run(resolve(g.build()), { runId: 'f' })
      .catch((e: unknown) => e)) as RunFailure;
    expect(err).toBeInstanceOf(RunFailure);
    expect(err.info()).toEqual({ code: 'bad_thing', message: 'toy node failed on purpose', nodeId: 'boom', nodeType: 'toy/fail', input: 'value' });
  });
});

describe('OutputCache', () => {
  it('evicts least recently used entries beyond its byte bound', () => {
    const cache = new OutputCache(3000);
    cache.set('a', { x: new Uint8Array(1000) });
    cache.set('b', { x: new Uint8Array(1000) });
    cache.get('a');
    cache.set('c', { x: new Uint8Array(1000) });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    cache.set('huge', { x: new Uint8Array(10_000) });
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.bytes).toBeLessThanOrEqual(3000);
  });
});
