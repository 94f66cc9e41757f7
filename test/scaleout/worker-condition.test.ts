// Which failed runs are the worker's fault (and go back to the queue) rather than the job's.
import { describe, expect, it } from 'vitest';
import { workerCondition } from '../../server/worker/remote-worker.js';

describe('workerCondition', () => {
  it('names refused keys, an unreachable API node, missing model folders and memory exhaustion', () => {
    expect(workerCondition({ code: 'worker_unauthorized', message: 'HTTP 401' })).toMatch(/refuses its key/);
    expect(workerCondition({ code: 'file_server_unreachable', message: 'ECONNREFUSED' })).toMatch(/cannot reach/);
    expect(workerCondition({ code: 'model_not_found', message: 'no model folders in /m' })).toMatch(/models folder/);
    expect(workerCondition({ code: 'model_incomplete', message: 'missing unet' })).toMatch(/models folder/);
    expect(workerCondition({ code: 'worker_crashed', message: 'execution worker exited (code 1)' })).toMatch(/memory/);
    expect(workerCondition({ code: 'node_failed', message: 'Failed to allocate memory for requested buffer of size 1024' })).toMatch(/memory/);
  });

  it('leaves failures of the job itself alone', () => {
    expect(workerCondition({ code: 'upload_not_found', message: 'no uploaded file' })).toBeUndefined();
    expect(workerCondition({ code: 'workflow_invalid', message: 'steps must be <= 500' })).toBeUndefined();
    expect(workerCondition({ code: 'node_failed', message: 'bad image' })).toBeUndefined();
  });
});
