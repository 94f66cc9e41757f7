// Stopping the server while onnxruntime runs a job used to abort the whole process
// ("terminate called after throwing an instance of 'Napi::Error'"): the execution worker was
// terminated mid-run. The worker now cancels the job and lets the run return first; the job
// stays accepted and runs again after the restart. Runs in a child process, since the
// failure is the process dying.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('stopping the server mid-run leaves the process alive and the job accepted', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.resolve('test/server/stop-mid-run.child.ts')], { maxBuffer: 2 ** 22 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { alive: boolean; states: string[] };
  expect(r.alive).toBe(true);
  // After each restart the interrupted job is back (running again or queued), never failed or lost.
  expect(r.states).toHaveLength(2);
  for (const s of r.states) expect(['queued', 'running']).toContain(s);
}, 120_000);
