// Saved workflows: GET /v1/workflows, GET/PUT/DELETE /v1/workflows/:name (validated on save).
import { Router } from 'express';
import { validateWorkflow } from '../engine/validate.js';
import { WorkflowSchema } from '../engine/workflow.js';
import { HttpError, notFound } from '../http-errors.js';
import type { AppDeps } from './context.js';
import { workflowInvalid } from './jobs.js';
import { WORKFLOW_NAME } from './workflow-store.js';

export function workflowRoutes(deps: AppDeps): Router {
  const r = Router();
  const checkName = (name: string) => {
    if (!WORKFLOW_NAME.test(name)) throw new HttpError(400, 'invalid_name', 'workflow names are 1-64 letters, digits, "_", "-" or "."; starting with a letter or digit', 'name');
  };

  r.get('/v1/schemas/workflow.json', (_req, res) => {
    res.json(JSON.parse(JSON.stringify(WorkflowSchema)));
  });

  r.get('/v1/workflows', async (_req, res) => {
    res.json({ workflows: await deps.workflows.list() });
  });

  r.get('/v1/workflows/:name', async (req, res) => {
    checkName(req.params.name);
    const found = await deps.workflows.get(req.params.name);
    if (!found) throw notFound(`workflow "${req.params.name}"`);
    res.setHeader('X-Maskflow-Builtin', String(found.builtin));
    res.json(found.workflow);
  });

  r.put('/v1/workflows/:name', async (req, res) => {
    const { name } = req.params;
    checkName(name);
    if (await deps.workflows.isBuiltin(name)) throw new HttpError(409, 'read_only', `"${name}" is a built-in workflow; save it under another name`);
    const { problems } = validateWorkflow(req.body, deps.registry, { maxNodes: deps.config.maxWorkflowNodes });
    if (problems.length) throw workflowInvalid(problems);
    const existed = (await deps.workflows.get(name)) !== undefined;
    await deps.workflows.put(name, req.body);
    res.status(existed ? 200 : 201).json({ name, saved: true });
  });

  r.delete('/v1/workflows/:name', async (req, res) => {
    const { name } = req.params;
    checkName(name);
    if (await deps.workflows.isBuiltin(name)) throw new HttpError(409, 'read_only', `"${name}" is a built-in workflow and cannot be deleted`);
    if (!(await deps.workflows.delete(name))) throw notFound(`workflow "${name}"`);
    res.status(204).end();
  });
  return r;
}
