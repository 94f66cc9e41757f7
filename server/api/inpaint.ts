// POST /v1/inpaint (waits) and the queue variant /v1/queue/inpaint: a thin facade that
// validates the flat body, maps it onto the inpaint workflow's public inputs and runs it
// like any saved workflow.
import { randomInt } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { matchModelName } from '../checkpoints/discovery.js';
import type { Problem } from '../engine/errors.js';
import { publicInputTargets, type Workflow } from '../engine/workflow.js';
import { HttpError, notFound, unprocessable } from '../http-errors.js';
import type { JobRecord } from '../queue/job-store.js';
import { baseUrl, type AppDeps } from './context.js';
import { IMAGE_SIZE_PRESETS, inpaintRequestSchema, type InpaintRequest } from './inpaint-schema.js';
import { fieldForInput, mapInpaintRequest } from './inpaint-mapping.js';
import { failureStatus, idempotencyOf, inpaintResult, queueStatus, queueUrls, runView, submitJob } from './jobs.js';
import { assertSafeUrl, normalizeSource, selfHostsOf, type SourceContext } from './sources.js';
import { compileBody } from './validation.js';
import { promptExpansionRefusal } from '../prompt/availability.js';
import { safetyRefusal } from '../safety/status.js';

export const DEFAULT_INPAINT_WORKFLOW = 'sdxl-inpaint';

const IMAGE_SIZE_MESSAGE = `must be one of ${Object.keys(IMAGE_SIZE_PRESETS).join(', ')} or an object {width, height}`;

/** The flat field a workflow problem or run error is about, through the workflow's public inputs. */
function fieldForNodeParam(workflow: Workflow, nodeId: string | undefined, param: string | undefined): string | undefined {
  if (!nodeId || !param) return undefined;
  for (const [name, input] of Object.entries(workflow.inputs ?? {})) {
    if (publicInputTargets(input).some((t) => t.node === nodeId && t.param === param)) return fieldForInput(name);
  }
  return undefined;
}

export function inpaintRoutes(deps: AppDeps): Router {
  const r = Router();
  const { config } = deps;
  const validate = compileBody<InpaintRequest>(inpaintRequestSchema(config), { image_size: IMAGE_SIZE_MESSAGE });
  const workflowName = deps.inpaintWorkflowName ?? DEFAULT_INPAINT_WORKFLOW;

  async function loadWorkflow(): Promise<Workflow> {
    const found = await deps.workflows.get(workflowName);
    if (!found) throw new HttpError(503, 'inpaint_unavailable', `the inpaint workflow "${workflowName}" is not installed on this server`);
    return found.workflow as Workflow;
  }

  async function submit(req: Request, res: Response, queued: boolean): Promise<{ job: JobRecord; existing: boolean; body: InpaintRequest }> {
    const explicit = new Set(Object.keys((req.body ?? {}) as object));
    const idempotency = idempotencyOf(req); // before validation fills defaults in place and a seed is drawn
    const body = validate(req.body);
    if (!queued && body.webhook_url !== undefined) throw new HttpError(422, 'unsupported_parameter', 'webhook_url is only accepted by /v1/queue/inpaint', 'webhook_url');
    const saved = await loadWorkflow();
    const declared = new Set(Object.keys(saved.inputs ?? {}));

    const ctx: SourceContext = {
      files: deps.files,
      allowlist: config.urlAllowlist,
      maxBytes: config.maxImageBytes,
      selfHosts: selfHostsOf(req, config.publicUrl ? [new URL(config.publicUrl).host] : []),
      resolve: deps.resolve,
      uploads: deps.uploadIndex,
    };
    body.image_url = await normalizeSource(body.image_url, 'image_url', ctx);
    body.mask_url = await normalizeSource(body.mask_url, 'mask_url', ctx);
    for (const [i, l] of (body.loras ?? []).entries()) l.path = await normalizeSource(l.path, `loras.${i}.path`, { ...ctx, maxBytes: config.maxModelFileBytes }, { allowName: true });
    for (const [i, e] of (body.embeddings ?? []).entries()) e.path = await normalizeSource(e.path, `embeddings.${i}.path`, { ...ctx, maxBytes: config.maxModelFileBytes }, { allowName: true });
    for (const [i, c] of (body.controlnets ?? []).entries()) {
      if ((c.start ?? 0) >= (c.end ?? 1)) throw unprocessable('invalid_value', `controlnets.${i}: start must be below end`, `controlnets.${i}.start`);
      c.path = await normalizeSource(c.path, `controlnets.${i}.path`, { ...ctx, maxBytes: config.maxModelFileBytes }, { allowName: true });
      c.control_image_url = await normalizeSource(c.control_image_url, `controlnets.${i}.control_image_url`, ctx);
    }
    if (body.webhook_url !== undefined) await assertSafeUrl(body.webhook_url, 'webhook_url', ctx);

    body.seed ??= randomInt(0, 2 ** 32);
    if (body.model === undefined && config.defaultModel) body.model = config.defaultModel;
    if (body.model !== undefined && declared.has('model')) {
      const known = deps.health.models().map((m) => m.name);
      // A checkpoint may be named without .safetensors.
      body.model = matchModelName(known, body.model) ?? body.model;
      if (!known.includes(body.model)) {
        throw new HttpError(422, 'model_not_found', `model "${body.model}" is not installed${known.length ? ` (available: ${known.join(', ')})` : ''}`, 'model');
      }
    }
    // Refuse before queueing what the worker would refuse anyway (never silently skip a requested feature).
    if (declared.has('expand_prompt')) {
      const refusal = promptExpansionRefusal(config, body.expand_prompt);
      if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message, 'expand_prompt');
    }
    if (declared.has('enable_safety_checker')) {
      const refusal = safetyRefusal(config, body.enable_safety_checker !== false);
      if (refusal) throw new HttpError(503, refusal.code, refusal.message, 'enable_safety_checker');
    }
    const { inputs, workflow } = mapInpaintRequest(body, saved, explicit);
    const { webhook_url: webhookUrl, priority, ...params } = body;
    const { job, existing } = submitJob(deps, {
      kind: 'inpaint',
      workflow,
      workflowName,
      inputs,
      params,
      priority,
      owner: res.locals.identity as string | undefined,
      ...idempotency,
      webhookUrl,
      seed: body.seed,
      model: body.model ?? deps.health.models()[0]?.name,
      fieldOf: (p: Problem) => (p.path.startsWith('inputs.') ? fieldForInput(p.path.slice(7)) : fieldForNodeParam(workflow, p.nodeId, p.path.split('.')[3])),
    });
    return { job, existing, body };
  }

  const failure = (job: JobRecord) =>
    failureStatus(job, (e) => fieldForNodeParam(job.workflow as Workflow, e.nodeId, e.param ?? e.input) ?? e.param ?? e.input);

  r.post('/v1/inpaint', async (req, res) => {
    const { job, body } = await submit(req, res, false);
    const done = await deps.queue.wait(job.id);
    if (done.status !== 'succeeded') throw failure(done);
    res.json(await inpaintResult(deps, done, req, body.sync_mode === true));
  });

  r.post('/v1/queue/inpaint', async (req, res) => {
    const { job, existing } = await submit(req, res, true);
    const base = baseUrl(deps, req);
    res.status(existing ? 200 : 202).json({ ...queueStatus(deps, job, base), ...queueUrls(base, job.id) });
  });

  const getJob = (id: string) => {
    const job = deps.queue.get(id);
    if (!job) throw notFound(`request "${id}"`);
    return job;
  };

  r.get('/v1/queue/requests/:id/status', (req, res) => {
    res.json(queueStatus(deps, getJob(req.params.id), baseUrl(deps, req)));
  });

  r.get('/v1/queue/requests/:id', async (req, res) => {
    const job = getJob(req.params.id);
    const base = baseUrl(deps, req);
    if (job.status === 'queued' || job.status === 'running') {
      res.status(202).json(queueStatus(deps, job, base));
      return;
    }
    if (job.status !== 'succeeded') throw failure(job);
    if (job.kind === 'inpaint') res.json(await inpaintResult(deps, job, req, job.params.sync_mode === true));
    else res.json(runView(deps, job, base));
  });

  const cancel = (req: Request, res: Response) => {
    const job = getJob(String(req.params.id));
    const result = deps.queue.cancel(job.id);
    if (result === 'finished') throw new HttpError(400, 'already_finished', `request already finished (${job.status})`);
    res.status(202).json({ request_id: job.id, status: result === 'cancelled' ? 'CANCELLED' : 'CANCELLATION_REQUESTED' });
  };
  r.put('/v1/queue/requests/:id/cancel', cancel);
  r.post('/v1/queue/requests/:id/cancel', cancel);
  return r;
}
