import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import type { RunEvent } from '../../server/engine/events.js';
import { WorkerPool } from '../../server/worker/pool.js';
import { GraphBuilder } from '../helpers/graph-builder.js';
import { TOY_NODES_DIR } from '../helpers/toy-registry.js';

let dataDir: string;
let pool: WorkerPool;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'mf-pool-'));
  pool = new WorkerPool({ ...loadConfig({ MASKFLOW_DATA_DIR: dataDir }), workers: 1 }, { nodeDirs: [TOY_NODES_DIR] });
  await pool.start();
});

afterAll(async () => {
  await pool.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function blocking(ms: number, value = 4) {
  const g = new GraphBuilder();
  const c = g.add('toy/constant', { value }, {}, 'c');
  const b = g.add('toy/block', { ms }, { value: c.out('value') }, 'block');
  g.add('toy/sink', {}, { value: b.out('value') }, 'out');
  return g.build();
}

describe('execution in a worker thread', () => {
  it('keeps the main event loop responsive while a node blocks its thread for 2 s', async () => {
    const lags: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      lags.push(now - last - 10);
      last = now;
    }, 10);
    const final = await pool.run({ runId: 'block', workflow: blocking(2000) });
    clearInterval(timer);
    expect(final.type).toBe('run:done');
    expect(lags.length).toBeGreaterThan(100);
    // Every 10 ms tick arrived within 50 ms of when it was due.
    expect(Math.max(...lags)).toBeLessThan(50);
  });

  it('streams events back and reports validation problems as run:error', async () => {
    const events: RunEvent[] = [];
    const ok = await pool.run({ runId: 'ok', workflow: blocking(0, 9) }, (e) => events.push(e));
    expect(ok.type === 'run:done' && ok.outputs).toEqual({ out: { result: 9 } });
    expect(events.map((e) => e.type)).toEqual(['run:start', 'node:start', 'node:done', 'node:start', 'node:done', 'node:start', 'node:done', 'run:done']);
    const bad = await pool.run({ runId: 'bad', workflow: { version: 1, nodes: { x: { type: 'toy/nope' } } } });
    expect(bad.type).toBe('run:error');
    expect(bad.type === 'run:error' && bad.error.problems?.map((p) => p.code)).toEqual(['unknown_node_type', 'no_output_nodes']);
  });

  it('cancels a running job between steps and a waiting job before it starts', async () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant', {}, {}, 'c');
    const s = g.add('toy/slow', { steps: 200, ms: 10 }, { value: c.out('value') }, 'slow');
    g.add('toy/sink', {}, { value: s.out('value') }, 'out');
    const running = pool.run({ runId: 'long', workflow: g.build() }, (e) => {
      if (e.type === 'node:progress' && e.done === 2) pool.cancel('long');
    });
    const waiting = pool.run({ runId: 'queued', workflow: g.build() });
    expect(pool.cancel('queued')).toBe(true);
    expect((await waiting).type).toBe('run:cancelled');
    const final = await running;
    expect(final).toEqual({ type: 'run:cancelled', runId: 'long', nodeId: 'slow' });
  });

  it('fails the job of a crashed worker with a reason and serves the next job', async () => {
    const g = new GraphBuilder();
    const c = g.add('toy/constant', {}, {}, 'c');
    const f = g.add('toy/fail', { crash: true }, { value: c.out('value') }, 'f');
    g.add('toy/sink', {}, { value: f.out('value') }, 'out');
    const crashed = await pool.run({ runId: 'crash', workflow: g.build() });
    expect(crashed.type === 'run:error' && crashed.error.code).toBe('worker_crashed');
    const next = await pool.run({ runId: 'after', workflow: blocking(0) });
    expect(next.type).toBe('run:done');
    expect(pool.workers[0]!.restarts).toBe(1);
  });
});
