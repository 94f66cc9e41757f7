// The websocket protocol with toy nodes: run with one progress event per step, subscribe,
// cancel mid-run, disconnects that do not cancel, preview frames, errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FRAME_PREVIEW } from '../../server/ws/protocol.js';
import { api, connectWs, startTestServer, toyWorkflow, until, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('websocket /ws', () => {
  it('runs an inline workflow with one progress event per step, then run:done', async () => {
    const c = await connectWs(server);
    expect((await c.next((m) => m.type === 'hello')).protocol).toBe(1);
    c.send({ type: 'run', ref: 'r1', workflow: toyWorkflow(5, 5), inputs: { value: 3 } });
    const queued = await c.next((m) => m.type === 'run:queued' && m.ref === 'r1');
    const done = await c.next((m) => m.type === 'run:done' && m.runId === queued.runId);
    expect(done.outputs.out.result).toBe(3);
    const mine = c.messages.filter((m) => m.runId === queued.runId);
    const types = mine.map((m) => m.type);
    expect(types[0]).toBe('run:queued');
    expect(types).toContain('run:start');
    const progress = mine.filter((m) => m.type === 'node:progress');
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5]);
    expect(progress.every((p) => p.total === 5 && p.nodeId === 's')).toBe(true);
    expect(types.filter((t) => t === 'node:done').length).toBe(3);
    expect(types.at(-1)).toBe('run:done');
    await c.close();
  });

  it('runs a saved workflow by name and reports errors as messages', async () => {
    await api(server, 'PUT', '/v1/workflows/ws-toy', toyWorkflow(1, 1));
    const c = await connectWs(server);
    c.send({ type: 'run', ref: 'a', name: 'ws-toy', inputs: { value: 9 } });
    const q = await c.next((m) => m.ref === 'a');
    expect((await c.next((m) => m.type === 'run:done' && m.runId === q.runId)).outputs.out.result).toBe(9);
    c.send({ type: 'run', ref: 'b', name: 'nope' });
    expect((await c.next((m) => m.ref === 'b')).error.code).toBe('not_found');
    c.send({ type: 'run', ref: 'c', workflow: { version: 1, nodes: { a: { type: 'toy/sink' } } } });
    const invalid = await c.next((m) => m.ref === 'c');
    expect(invalid.type).toBe('error');
    expect(invalid.error.code).toBe('workflow_invalid');
    expect(invalid.error.problems[0]).toMatchObject({ nodeId: 'a', code: 'missing_input' });
    c.send({ type: 'launch', ref: 'd' });
    expect((await c.next((m) => m.ref === 'd')).error.code).toBe('unknown_message');
    c.ws.send('not json');
    expect((await c.next((m) => m.type === 'error' && m.error.code === 'invalid_message')).error.message).toMatch(/JSON/);
    c.send({ type: 'cancel', runId: 'nope', ref: 'e' });
    expect((await c.next((m) => m.ref === 'e')).error.code).toBe('not_found');
    await c.close();
  });

  it('cancels a running job between steps', async () => {
    const c = await connectWs(server);
    c.send({ type: 'run', ref: 'x', workflow: toyWorkflow(150, 20) });
    const q = await c.next((m) => m.ref === 'x');
    await c.next((m) => m.type === 'node:progress' && m.runId === q.runId && m.done >= 2);
    const t0 = Date.now();
    c.send({ type: 'cancel', runId: q.runId, ref: 'y' });
    expect((await c.next((m) => m.ref === 'y')).result).toBe('cancelling');
    await c.next((m) => m.type === 'run:cancelled' && m.runId === q.runId);
    expect(Date.now() - t0).toBeLessThan(2000);
    const steps = c.messages.filter((m) => m.type === 'node:progress' && m.runId === q.runId).length;
    expect(steps).toBeLessThan(150);
    expect((await api(server, 'GET', `/v1/runs/${q.runId}`)).body.status).toBe('cancelled');
    await c.close();
  });

  it('keeps queued work when a client disconnects, unless it asked otherwise', async () => {
    const a = await connectWs(server);
    a.send({ type: 'run', ref: 'keep', workflow: toyWorkflow(20, 10) });
    a.send({ type: 'run', ref: 'drop', workflow: toyWorkflow(20, 10), cancel_on_disconnect: true });
    const keep = await a.next((m) => m.ref === 'keep');
    const drop = await a.next((m) => m.ref === 'drop');
    await a.close();
    const b = await connectWs(server);
    b.send({ type: 'subscribe', runId: keep.runId, ref: 's' });
    const sub = await b.next((m) => m.ref === 's');
    expect(['queued', 'running', 'succeeded']).toContain(sub.status);
    await until(async () => (await api(server, 'GET', `/v1/runs/${keep.runId}`)).body.status === 'succeeded');
    expect((await api(server, 'GET', `/v1/runs/${drop.runId}`)).body.status).toBe('cancelled');
    // A late subscriber to a finished run gets its final event at once.
    b.send({ type: 'subscribe', runId: keep.runId, ref: 'late' });
    await b.next((m) => m.ref === 'late' && m.status === 'succeeded');
    await b.next((m) => m.type === 'run:done' && m.runId === keep.runId);
    await b.close();
  });

  it('encodes preview frames with a small header', () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]);
    const header = { runId: 'r', nodeId: 'n', step: 2, total: 5, mime: 'image/jpeg', width: 8, height: 8 };
    const frame = encodeFrame(FRAME_PREVIEW, header, jpeg);
    expect(frame.readUInt32BE(0)).toBe(1);
    const decoded = decodeFrame(frame);
    expect(decoded.header).toEqual(header);
    expect([...decoded.payload]).toEqual([...jpeg]);
  });
});
