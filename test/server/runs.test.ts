// Workflow runs over REST with toy nodes: lifecycle, validation, saved workflows,
// priority, bounded queue, idempotency and cancellation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, finishedRun, startTestServer, toyWorkflow, until, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MASKFLOW_MAX_QUEUE: '3' });
});
afterAll(async () => {
  await server?.stop();
});

const finished = (id: string) => finishedRun(server, id);

describe('workflow runs', () => {
  it('queues an inline workflow and reports its outputs', async () => {
    const r = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(2, 5), inputs: { value: 4, seed: 10 } });
    expect(r.status).toBe(202);
    expect(r.body.id).toMatch(/^[0-9a-f]{32}$/);
    expect(['queued', 'running']).toContain(r.body.status);
    const done = await finished(r.body.id);
    expect(done.status).toBe('succeeded');
    expect(done.outputs.out.result).toBe(14);
    expect(done.timings.total).toBeGreaterThan(0);
  });

  it('reports step progress in the run view and the queue status', async () => {
    const r = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(40, 20) });
    const progress = await until(async () => {
      const s = await api(server, 'GET', `/v1/queue/requests/${r.body.id}/status`);
      return s.body.status === 'IN_PROGRESS' && s.body.progress.step >= 2 ? s.body.progress : undefined;
    });
    expect(progress).toMatchObject({ node_id: 's', total: 40, nodes_total: 3 });
    const view = await api(server, 'GET', `/v1/runs/${r.body.id}`);
    expect(view.body.progress).toMatchObject({ nodeId: 's', nodeType: 'toy/slow', total: 40 });
    await api(server, 'PUT', `/v1/queue/requests/${r.body.id}/cancel`);
    expect((await finished(r.body.id)).status).toBe('cancelled');
  });

  it('lists recent runs, newest first', async () => {
    const a = await api(server, 'POST', '/v1/runs?wait=1', { workflow: toyWorkflow(1, 1) });
    const list = await api(server, 'GET', '/v1/runs?limit=2');
    expect(list.body.runs).toHaveLength(2);
    expect(list.body.runs[0]).toMatchObject({ id: a.body.id, status: 'succeeded' });
    expect(list.body.runs[0].outputs).toBeUndefined();
  });

  it('waits for the result with ?wait=true', async () => {
    const r = await api(server, 'POST', '/v1/runs?wait=true', { workflow: toyWorkflow(1, 1), inputs: { value: 2 } });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('succeeded');
    expect(r.body.outputs.out.result).toBe(2);
  });

  it('reports every workflow problem at once with 422', async () => {
    const wf = toyWorkflow();
    (wf.nodes as any).s.params.steps = 0;
    (wf.nodes as any).x = { type: 'toy/nope' };
    (wf.nodes as any).out.inputs = { value: ['c', 'missing'] };
    const r = await api(server, 'POST', '/v1/runs', { workflow: wf, inputs: { bogus: 1 } });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('workflow_invalid');
    const codes = r.body.error.problems.map((p: any) => p.code).sort();
    expect(codes).toEqual(['invalid_param', 'unknown_link_output', 'unknown_node_type', 'unknown_public_input']);
    for (const p of r.body.error.problems) expect(p).toMatchObject({ path: expect.any(String), message: expect.any(String) });
    expect(r.body.error.problems.find((p: any) => p.code === 'invalid_param').nodeId).toBe('s');
  });

  it('applies server limits to any workflow', async () => {
    const r = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(), inputs: { steps: 1000 } });
    expect(r.status).toBe(422);
    expect(r.body.error.problems[0]).toMatchObject({ nodeId: 's', path: 'nodes.s.params.steps', code: 'invalid_param' });
    expect(r.body.error.problems[0].message).toMatch(/limit of 150/);
  });

  it('refuses a body without workflow, and unknown fields', async () => {
    expect((await api(server, 'POST', '/v1/runs', { inputs: {} })).body.error).toMatchObject({ code: 'missing_parameter', field: 'workflow' });
    expect((await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(), extra: 1 })).body.error).toMatchObject({ code: 'unknown_parameter', field: 'extra' });
    expect((await api(server, 'GET', '/v1/runs/nope')).status).toBe(404);
  });

  it('saves, lists, runs and deletes user workflows; built-ins are read-only', async () => {
    const put = await api(server, 'PUT', '/v1/workflows/my-toy', toyWorkflow(1, 1));
    expect(put.status).toBe(201);
    expect((await api(server, 'PUT', '/v1/workflows/my-toy', toyWorkflow(1, 1))).status).toBe(200);
    const bad = await api(server, 'PUT', '/v1/workflows/broken', { version: 1, nodes: { a: { type: 'toy/sink' } } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.problems[0]).toMatchObject({ nodeId: 'a', code: 'missing_input' });
    const list = await api(server, 'GET', '/v1/workflows');
    const names = list.body.workflows.map((w: any) => w.name);
    expect(names).toContain('my-toy');
    expect(names).toContain('sdxl-inpaint');
    expect(list.body.workflows.find((w: any) => w.name === 'sdxl-inpaint').builtin).toBe(true);
    expect((await api(server, 'GET', '/v1/workflows/my-toy')).body.nodes.s.type).toBe('toy/slow');

    const run = await api(server, 'POST', '/v1/workflows/my-toy/runs?wait=1', { inputs: { value: 5 } });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'succeeded', workflow: 'my-toy' });
    expect(run.body.outputs.out.result).toBe(5);

    expect((await api(server, 'PUT', '/v1/workflows/sdxl-inpaint', toyWorkflow())).status).toBe(409);
    expect((await api(server, 'DELETE', '/v1/workflows/sdxl-inpaint')).status).toBe(409);
    expect((await api(server, 'DELETE', '/v1/workflows/my-toy')).status).toBe(204);
    expect((await api(server, 'GET', '/v1/workflows/my-toy')).status).toBe(404);
    expect((await api(server, 'POST', '/v1/workflows/my-toy/runs', {})).status).toBe(404);
    expect((await api(server, 'GET', '/v1/workflows/..%2Fx')).status).toBe(400);
  });

  it('runs higher priority first, bounds the queue, honours Idempotency-Key and cancels', async () => {
    const blocker = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(150, 15) });
    await until(async () => (await api(server, 'GET', `/v1/runs/${blocker.body.id}`)).body.status === 'running');
    const low = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1), inputs: { value: 1 } });
    const high = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1), inputs: { value: 2 }, priority: 5 }, { 'Idempotency-Key': 'abc' });
    expect(high.status).toBe(202);
    expect((await api(server, 'GET', `/v1/runs/${high.body.id}`)).body.position).toBe(0);
    expect((await api(server, 'GET', `/v1/runs/${low.body.id}`)).body.position).toBe(1);
    const again = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1), inputs: { value: 2 }, priority: 5 }, { 'Idempotency-Key': 'abc' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(high.body.id);
    const reused = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1), inputs: { value: 3 }, priority: 5 }, { 'Idempotency-Key': 'abc' });
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: 'idempotency_key_reused', field: 'Idempotency-Key' });
    expect(reused.body.error.message).toContain(high.body.id);

    const third = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1) });
    expect(third.status).toBe(202);
    const full = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(1, 1) });
    expect(full.status).toBe(503);
    expect(full.body.error.code).toBe('queue_full');
    expect(full.headers.get('retry-after')).toBeTruthy();

    const cq = await api(server, 'POST', `/v1/runs/${third.body.id}/cancel`);
    expect(cq.body.status).toBe('cancelled');
    expect((await api(server, 'GET', `/v1/runs/${third.body.id}`)).body.status).toBe('cancelled');
    const cr = await api(server, 'POST', `/v1/runs/${blocker.body.id}/cancel`);
    expect(cr.body.status).toBe('cancelling');
    expect((await finished(blocker.body.id)).status).toBe('cancelled');
    const [h, l] = [await finished(high.body.id), await finished(low.body.id)];
    expect(h.status).toBe('succeeded');
    expect(Date.parse(h.started_at)).toBeLessThanOrEqual(Date.parse(l.started_at));
    expect((await api(server, 'POST', `/v1/runs/${high.body.id}/cancel`)).status).toBe(400);
  });
});
