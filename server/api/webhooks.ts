// Webhooks: when a job that named a webhook_url finishes, its result is POSTed there
// (under the same SSRF rules as image URLs), retried a few times on failure.
import { safeFetch } from '../image/fetch.js';
import type { JobRecord } from '../queue/job-store.js';
import { baseUrl, type AppDeps } from './context.js';
import { inpaintResult, runView } from './jobs.js';

export interface WebhookOptions {
  attempts?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
}

export async function webhookBody(deps: AppDeps, job: JobRecord): Promise<Record<string, unknown>> {
  const base = baseUrl(deps);
  const status = job.status === 'succeeded' ? 'OK' : job.status === 'cancelled' ? 'CANCELLED' : 'ERROR';
  let payload: unknown = null;
  if (job.status === 'succeeded') payload = job.kind === 'inpaint' ? await inpaintResult(deps, job, undefined, job.params.sync_mode === true) : runView(deps, job, base);
  return { request_id: job.id, status, payload, ...(job.error ? { error: job.error } : {}) };
}

/** Subscribes to the queue; returns the unsubscribe function. */
export function startWebhooks(deps: AppDeps, opts: WebhookOptions = {}): () => void {
  const attempts = opts.attempts ?? 3;
  const delay = opts.retryDelayMs ?? 2000;
  const log = deps.logger.child({ component: 'webhooks' });
  const deliver = async (job: JobRecord) => {
    const body = JSON.stringify(await webhookBody(deps, job));
    for (let i = 1; i <= attempts; i++) {
      try {
        await safeFetch(job.webhookUrl!, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-maskflow-request-id': job.id },
          allowlist: deps.config.urlAllowlist,
          maxBytes: 64 * 1024,
          timeoutMs: opts.timeoutMs ?? 10_000,
          maxRedirects: 0,
          resolve: deps.resolve,
        });
        deps.metrics.webhooks.inc({ result: 'delivered' });
        return;
      } catch (err) {
        log.warn({ err: (err as Error).message, jobId: job.id, attempt: i }, 'webhook delivery failed');
        if (i < attempts) await new Promise((r) => setTimeout(r, delay * i));
      }
    }
    deps.metrics.webhooks.inc({ result: 'failed' });
  };
  return deps.queue.subscribe((e, job) => {
    if ((e.type === 'run:done' || e.type === 'run:error' || e.type === 'run:cancelled') && job.webhookUrl) {
      void deliver(job).catch((err: unknown) => log.error({ err }, 'webhook failed'));
    }
  });
}
