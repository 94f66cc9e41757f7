// Accepted work survives a restart: a job queued (and one running) when the server
// stops runs to completion after it starts again on the same data dir.
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { JobStore } from '../../server/queue/job-store.js';
import { api, startTestServer, tempDir, toyWorkflow, until, type TestServer } from './helpers.js';
import path from 'node:path';

const dataDir = tempDir();
let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('restart', () => {
  it('runs queued and interrupted jobs again after a restart', async () => {
    server = await startTestServer({}, { dataDir });
    const running = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(100, 10), inputs: { value: 1 } });
    await until(async () => (await api(server!, 'GET', `/v1/runs/${running.body.id}`)).body.status === 'running');
    const queued = await api(server, 'POST', '/v1/runs', { workflow: toyWorkflow(2, 1), inputs: { value: 42 } });
    expect((await api(server, 'GET', `/v1/runs/${queued.body.id}`)).body.status).toBe('queued');
    await server.stop({ keepData: true });
    server = undefined;

    // Both are still in the store, unfinished.
    const store = new JobStore(path.join(dataDir, 'jobs.sqlite'));
    expect(store.get(running.body.id)?.status).toBe('running');
    expect(store.get(queued.body.id)?.status).toBe('queued');
    store.close();

    server = await startTestServer({}, { dataDir });
    const q = await until(async () => {
      const r = await api(server!, 'GET', `/v1/runs/${queued.body.id}`);
      return r.body.status === 'succeeded' ? r.body : undefined;
    });
    expect(q.outputs.out.result).toBe(42);
    // The interrupted one was re-queued (ahead of the other: same priority, submitted first) and runs again.
    const r = await api(server, 'GET', `/v1/runs/${running.body.id}`);
    expect(r.body.status).toBe('succeeded');
    expect(r.body.outputs.out.result).toBe(1);
    expect(r.body.attempts).toBe(2);
    expect(Date.parse(r.body.finished_at)).toBeLessThanOrEqual(Date.parse(q.finished_at));
  });

  it('fails a job interrupted too often, with a reason', async () => {
    const dir = tempDir();
    let s = await startTestServer({ MASKFLOW_JOB_MAX_ATTEMPTS: '1' }, { dataDir: dir });
    const job = await api(s, 'POST', '/v1/runs', { workflow: toyWorkflow(150, 30) });
    await until(async () => (await api(s, 'GET', `/v1/runs/${job.body.id}`)).body.status === 'running');
    await s.stop({ keepData: true });
    s = await startTestServer({ MASKFLOW_JOB_MAX_ATTEMPTS: '1' }, { dataDir: dir });
    const r = await api(s, 'GET', `/v1/runs/${job.body.id}`);
    expect(r.body.status).toBe('failed');
    expect(r.body.error.code).toBe('interrupted');
    await s.stop();
  });
});
