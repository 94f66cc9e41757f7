// worker_threads entry: owns the registry, executor, caches and ORT sessions, so
// synchronous inference never blocks the server's event loop.
import { parentPort } from 'node:worker_threads';
import { createLogger } from '../log.js';
import type { FromWorker, RunJob, ToWorker } from './protocol.js';
import { JobRunner } from './runner.js';

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

const send = (msg: FromWorker): void => {
  // Previews carry a Uint8Array; structured clone copies it (they are small JPEGs).
  port.postMessage(msg);
};

let runner: JobRunner | undefined;
const pending: RunJob[] = [];
let busy = false;

async function drain(): Promise<void> {
  if (busy || !runner) return;
  busy = true;
  while (pending.length) {
    const job = pending.shift()!;
    await runner.run(job, (event) => send({ type: 'event', event }));
    send({ type: 'stats', stats: runner.stats() });
  }
  busy = false;
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'init':
      JobRunner.create(msg.config, createLogger(msg.config.logLevel, { component: 'worker' }), msg.nodeDirs)
        .then((r) => {
          runner = r;
          send({ type: 'ready', nodeTypes: r.registry.types() });
          send({ type: 'stats', stats: r.stats() });
          void drain();
        })
        .catch((err: unknown) => send({ type: 'init-error', message: err instanceof Error ? err.stack ?? err.message : String(err) }));
      break;
    case 'run':
      pending.push(msg.job);
      void drain();
      break;
    case 'cancel': {
      const i = pending.findIndex((j) => j.runId === msg.runId);
      if (i >= 0) {
        pending.splice(i, 1);
        send({ type: 'event', event: { type: 'run:cancelled', runId: msg.runId } });
      } else runner?.cancel(msg.runId);
      break;
    }
  }
});
