// A tiny Prometheus text-exposition registry (counters, gauges, histograms with labels).
// Small enough to own, so no dependency; format: https://prometheus.io/docs/instrumenting/exposition_formats/

type Labels = Record<string, string>;

const labelKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  abstract readonly kind: 'counter' | 'gauge' | 'histogram';
  abstract lines(): string[];
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`, ...this.lines()].join('\n');
  }
}

export class Counter extends Metric {
  readonly kind = 'counter';
  private readonly values = new Map<string, number>();
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

export class Gauge extends Metric {
  private readonly values = new Map<string, number>();
  /** kind 'counter' for totals kept elsewhere (e.g. in a worker) and read at scrape time. */
  constructor(
    name: string,
    help: string,
    private readonly collect?: () => Array<[Labels, number]>,
    readonly kind: 'gauge' | 'counter' = 'gauge',
  ) {
    super(name, help);
  }
  set(labels: Labels, v: number): void {
    this.values.set(labelKey(labels), v);
  }
  lines(): string[] {
    const entries = this.collect ? this.collect().map(([l, v]) => [labelKey(l), v] as const) : [...this.values];
    return entries.map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

export class Histogram extends Metric {
  readonly kind = 'histogram';
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, readonly buckets: number[]) {
    super(name, help);
  }
  observe(labels: Labels, v: number): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => {
      if (v <= b) s!.counts[i]!++;
    });
    s.sum += v;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const sep = k ? ',' : '';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The server's metrics; the queue, worker events and HTTP layer feed them. */
export class Metrics {
  readonly httpRequests = new Counter('maskflow_http_requests_total', 'HTTP requests by method, route and status.');
  readonly queueWait = new Histogram('maskflow_queue_wait_seconds', 'Time jobs waited in the queue before a worker took them.', SECONDS);
  readonly jobDuration = new Histogram('maskflow_job_duration_seconds', 'Job run time in the worker by kind and final status.', SECONDS);
  readonly jobs = new Counter('maskflow_jobs_total', 'Finished jobs by kind and final status.');
  readonly nodeDuration = new Histogram('maskflow_node_duration_seconds', 'Node execution time by node type.', SECONDS);
  readonly stepTime = new Histogram('maskflow_step_seconds', 'Time between progress steps (denoise steps) by node type.', SECONDS);
  readonly cacheHits = new Counter('maskflow_cache_hits_total', 'Nodes served from the output cache, by node type.');
  readonly errors = new Counter('maskflow_errors_total', 'Errors by code (failed jobs and HTTP errors).');
  readonly webhooks = new Counter('maskflow_webhooks_total', 'Webhook deliveries by result.');
  // Scale-out faults.
  readonly redispatches = new Counter('maskflow_job_redispatches_total', 'Jobs handed to the workers again, by reason (worker_error: the worker\'s own condition; worker_lost: its worker died; redis_lost: Redis lost the job; no_result: a completed job had no readable result).');
  readonly workerLosses = new Counter('maskflow_worker_losses_total', 'Runs lost with their worker (crash, kill, stall).');
  readonly refusedWorkers = new Counter('maskflow_workers_refused_total', 'Worker requests refused because of their API key.');
  readonly duplicateRuns = new Counter('maskflow_duplicate_runs_total', 'Second results of a finished job, discarded (their files deleted).');
  private readonly extra: Metric[] = [];

  /** Registers a gauge whose values are collected at scrape time. */
  gauge(name: string, help: string, collect: () => Array<[Labels, number]>, kind: 'gauge' | 'counter' = 'gauge'): void {
    this.extra.push(new Gauge(name, help, collect, kind));
  }

  render(): string {
    const all: Metric[] = [
      this.httpRequests,
      this.queueWait,
      this.jobDuration,
      this.jobs,
      this.nodeDuration,
      this.stepTime,
      this.cacheHits,
      this.errors,
      this.webhooks,
      this.redispatches,
      this.workerLosses,
      this.refusedWorkers,
      this.duplicateRuns,
      ...this.extra,
    ];
    return `${all.map((m) => m.render()).join('\n')}\n`;
  }
}
