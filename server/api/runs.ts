// Running saved or inline workflows: POST /v1/workflows/:name/runs {inputs} and
// POST /v1/runs {workflow, inputs}; same job lifecycle as the queue variant of inpaint.
import { Type, type Static } from '@sinclair/typebox';
import { Router, type Request, type Response } from 'express';
import { HttpError, notFound } from '../http-errors.js';
import { baseUrl, type AppDeps } from './context.js';
import { idempotencyOf, runView, submitJob } from './jobs.js';
import { assertSafeUrl } from './sources.js';
import { compileBody } from './validation.js';

const RunOptions = {
  inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Values for the workflow\'s public inputs.' })),
  priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100, default: 0 })),
  webhook_url: Type.Optional(Type.String({ minLength: 1 })),
};

export const NamedRunRequestSchema = Type.Object(RunOptions, { additionalProperties: false, $id: 'NamedRunRequest', title: 'NamedRunRequest' });
export const RunRequestSchema = Type.Object(
  { workflow: Type.Unknown({ description: 'A workflow document (see /v1/schemas/workflow.json)' }), ...RunOptions },
  { additionalProperties: false, $id: 'RunRequest', title: 'RunRequest' },
);
type RunRequest = Static<typeof RunRequestSchema>;

export function runRoutes(deps: AppDeps): Router {
  const r = Router();
  const validateNamed = compileBody<Static<typeof NamedRunRequestSchema>>(NamedRunRequestSchema);
  const validateInline = compileBody<RunRequest>(RunRequestSchema);

  async function start(
    req: Request,
    res: Response,
    workflow: unknown,
    workflowName: string | undefined,
    body: Static<typeof NamedRunRequestSchema>,
    idempotency: ReturnType<typeof idempotencyOf>,
  ) {
    if (body.webhook_url !== undefined) await assertSafeUrl(body.webhook_url, 'webhook_url', { allowlist: deps.config.urlAllowlist, resolve: deps.resolve });
    const inputs = body.inputs ?? {};
    const { job, existing } = submitJob(deps, {
      kind: 'run',
      workflow,
      workflowName,
      inputs,
      params: { ...(workflowName ? { workflow: workflowName } : {}), inputs },
      priority: body.priority,
      owner: res.locals.identity as string | undefined,
      ...idempotency,
      webhookUrl: body.webhook_url,
      seed: typeof inputs.seed === 'number' ? inputs.seed : undefined,
      model: typeof inputs.model === 'string' ? inputs.model : undefined,
    });
    const base = baseUrl(deps, req);
    if (req.query.wait === 'true' || req.query.wait === '1') {
      const done = await deps.queue.wait(job.id);
      res.json(runView(deps, done, base));
      return;
    }
    res.status(existing ? 200 : 202).json(runView(deps, job, base));
  }

  r.post('/v1/workflows/:name/runs', async (req, res) => {
    const idempotency = idempotencyOf(req); // before validation fills defaults in place
    const body = validateNamed(req.body ?? {});
    const found = await deps.workflows.get(req.params.name);
    if (!found) throw notFound(`workflow "${req.params.name}"`);
    await start(req, res, found.workflow, req.params.name, body, idempotency);
  });

  r.post('/v1/runs', async (req, res) => {
    const idempotency = idempotencyOf(req);
    const body = validateInline(req.body);
    if (body.workflow === undefined) throw new HttpError(422, 'missing_parameter', 'workflow is required', 'workflow');
    const { workflow, ...rest } = body;
    await start(req, res, workflow, undefined, rest, idempotency);
  });

  // Recent jobs: with API keys, only the caller's own.
  r.get('/v1/runs', (req, res) => {
    const limit = Math.min(200, Math.max(1, Number(req.query.limit) || 50));
    const owner = deps.config.apiKeys.length ? (res.locals.identity as string) : undefined;
    const base = baseUrl(deps, req);
    const summary = (j: ReturnType<typeof deps.queue.recent>[number]) => {
      const { outputs: _o, ...view } = runView(deps, j, base);
      return view;
    };
    res.json({ runs: deps.queue.recent(limit, owner).map(summary) });
  });

  r.get('/v1/runs/:id', (req, res) => {
    const job = deps.queue.get(req.params.id);
    if (!job) throw notFound(`run "${req.params.id}"`);
    res.json(runView(deps, job, baseUrl(deps, req)));
  });

  r.post('/v1/runs/:id/cancel', (req, res) => {
    const job = deps.queue.get(req.params.id);
    if (!job) throw notFound(`run "${req.params.id}"`);
    const result = deps.queue.cancel(job.id);
    if (result === 'finished') throw new HttpError(400, 'already_finished', `run already finished (${job.status})`);
    res.status(202).json({ id: job.id, status: result });
  });
  return r;
}
