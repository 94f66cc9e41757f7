// GET /openapi.json, generated from the same TypeBox schemas that validate requests,
// and GET /docs, a self-contained page rendered from that document.
import { Router } from 'express';
import type { TSchema } from '@sinclair/typebox';
import { WorkflowSchema } from '../engine/workflow.js';
import type { AppDeps } from './context.js';
import { SCHEMAS } from './inpaint-schema.js';
import { NamedRunRequestSchema, RunRequestSchema } from './runs.js';
import { PullRequestSchema } from './models.js';

type Json = Record<string, unknown>;

/** JSON copy with local $refs pointed at components and $ids dropped (OpenAPI resolves refs itself). */
function component(schema: TSchema): Json {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Json = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === '$id' || k === '$schema') continue;
        out[k] = k === '$ref' && typeof x === 'string' && !x.startsWith('#') ? `#/components/schemas/${x}` : walk(x);
      }
      return out;
    }
    return v;
  };
  return walk(JSON.parse(JSON.stringify(schema))) as Json;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed request',
  401: 'Missing or invalid API key',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Invalid parameter (the `field` names it), invalid workflow (`problems` lists every problem), or an Idempotency-Key reused for another request',
  429: 'Rate limited',
  500: 'Job failed',
  503: 'Queue full or service unavailable',
};
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const AnyObject = { type: 'object', additionalProperties: true };

export function buildOpenApi(deps: AppDeps): Json {
  const schemas: Json = {};
  for (const [name, make] of Object.entries(SCHEMAS)) schemas[name] = component(make(deps.config));
  schemas.RunRequest = component(RunRequestSchema);
  schemas.NamedRunRequest = component(NamedRunRequestSchema);
  schemas.Workflow = component(WorkflowSchema);
  schemas.PullRequest = component(PullRequestSchema);
  schemas.Pull = {
    type: 'object',
    description: 'A model pull job. Websocket: subscribe with its id for pull:progress, pull:done, pull:error, pull:cancelled.',
    properties: {
      id: { type: 'string' },
      kind: { const: 'pull' },
      status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] },
      progress: { type: 'object', additionalProperties: true, description: 'phase, file, file_index, file_count, file_bytes, file_total, bytes, total' },
      result: { type: 'object', additionalProperties: true, description: 'name, format, already_installed, bytes_downloaded, source, files (path, size, sha256)' },
      error: ref('Error'),
      shared: { type: 'boolean', description: 'POST only: an unfinished pull of the same source was joined' },
      status_url: { type: 'string' },
    },
    additionalProperties: true,
  };
  schemas.InstalledModel = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      format: { type: 'string', enum: ['onnx', 'diffusers', 'checkpoint'] },
      kind: { type: 'string', enum: ['inpaint', 'base', 'refiner'] },
      size: { type: 'integer', description: 'bytes on disk' },
      compiled: { type: 'boolean' },
      complete: { type: 'boolean' },
      source: { type: 'object', additionalProperties: true, description: 'provenance of a pulled model (Hub repo, revision, commit; or URL)' },
    },
    required: ['name', 'format', 'size', 'compiled', 'complete'],
    additionalProperties: true,
  };
  schemas.Run = { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] } }, additionalProperties: true };
  const keyed = deps.config.apiKeys.length > 0;
  return {
    openapi: '3.1.0',
    info: {
      title: 'maskflow',
      version: deps.versions.maskflow ?? '0.0.0',
      description: 'SDXL inpainting engine and node-based workflow runner. Websocket protocol: see docs/websocket.md (GET /ws).',
    },
    servers: [{ url: '/' }],
    components: {
      schemas,
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key> (or Key <key>) when MASKFLOW_API_KEYS is set' } },
      responses: Object.fromEntries(Object.entries(ERROR_TEXT).map(([c, d]) => [`E${c}`, json(ref('Error'), d)])),
    },
    ...(keyed ? { security: [{ apiKey: [] }] } : {}),
    paths: {
      '/v1/inpaint': {
        post: {
          summary: 'Inpaint and wait for the result',
          operationId: 'inpaint',
          requestBody: { required: true, content: { 'application/json': { schema: ref('InpaintRequest') } } },
          responses: { '200': json(ref('InpaintResponse')), ...errors(400, 401, 413, 415, 422, 429, 500, 503) },
        },
      },
      '/v1/queue/inpaint': {
        post: {
          summary: 'Queue an inpainting request',
          operationId: 'queueInpaint',
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 } }],
          requestBody: { required: true, content: { 'application/json': { schema: ref('InpaintRequest') } } },
          responses: { '202': json(ref('QueueAccepted'), 'Accepted'), '200': json(ref('QueueAccepted'), 'Same Idempotency-Key: the earlier request'), ...errors(400, 401, 422, 429, 503) },
        },
      },
      '/v1/queue/requests/{id}/status': {
        get: { summary: 'Queue status', operationId: 'queueStatus', parameters: [idParam('id')], responses: { '200': json(ref('QueueStatus')), ...errors(401, 404) } },
      },
      '/v1/queue/requests/{id}': {
        get: {
          summary: 'Result of a queued request (202 with the status while unfinished)',
          operationId: 'queueResult',
          parameters: [idParam('id')],
          responses: { '200': json(ref('InpaintResponse')), '202': json(ref('QueueStatus'), 'Not finished'), ...errors(401, 404, 409, 422, 500) },
        },
      },
      '/v1/queue/requests/{id}/cancel': {
        put: { summary: 'Cancel a queued or running request', operationId: 'queueCancel', parameters: [idParam('id')], responses: { '202': json(AnyObject, 'Cancelled or cancellation requested'), ...errors(400, 401, 404) } },
      },
      '/v1/uploads': {
        post: {
          summary: 'Upload an image or a .safetensors file',
          operationId: 'upload',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
              'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
            },
          },
          responses: { '201': json({ type: 'object', properties: { id: { type: 'string' }, url: { type: 'string' } }, required: ['id', 'url'] }, 'Stored'), ...errors(400, 401, 413, 415) },
        },
      },
      '/v1/files/{id}': {
        get: { summary: 'An output or upload (capability URL: no API key needed)', operationId: 'file', security: [], parameters: [idParam('id')], responses: { '200': { description: 'The file' }, ...errors(404) } },
      },
      '/v1/nodes': { get: { summary: 'Node catalogue with param JSON Schemas', operationId: 'nodes', responses: { '200': json(AnyObject), ...errors(401) } } },
      '/v1/schemas/workflow.json': { get: { summary: 'JSON Schema of the workflow format', operationId: 'workflowSchema', responses: { '200': json(AnyObject) } } },
      '/v1/workflows': { get: { summary: 'Saved workflows (built-in and user)', operationId: 'listWorkflows', responses: { '200': json(AnyObject), ...errors(401) } } },
      '/v1/workflows/{name}': {
        get: { summary: 'A saved workflow', operationId: 'getWorkflow', parameters: [idParam('name')], responses: { '200': json(ref('Workflow')), ...errors(400, 401, 404) } },
        put: {
          summary: 'Save a workflow (validated)',
          operationId: 'putWorkflow',
          parameters: [idParam('name')],
          requestBody: { required: true, content: { 'application/json': { schema: ref('Workflow') } } },
          responses: { '200': json(AnyObject, 'Replaced'), '201': json(AnyObject, 'Created'), ...errors(400, 401, 409, 413, 422) },
        },
        delete: { summary: 'Delete a user workflow', operationId: 'deleteWorkflow', parameters: [idParam('name')], responses: { '204': { description: 'Deleted' }, ...errors(401, 404, 409) } },
      },
      '/v1/workflows/{name}/runs': {
        post: {
          summary: 'Run a saved workflow with inputs',
          operationId: 'runSaved',
          parameters: [idParam('name'), { name: 'wait', in: 'query', required: false, schema: { type: 'boolean' } }],
          requestBody: { required: false, content: { 'application/json': { schema: ref('NamedRunRequest') } } },
          responses: { '202': json(ref('Run'), 'Queued'), '200': json(ref('Run'), 'Finished (wait=true)'), ...errors(400, 401, 404, 422, 429, 503) },
        },
      },
      '/v1/runs': {
        get: {
          summary: 'Recent runs, newest first (only the caller\'s own when API keys are on)',
          operationId: 'listRuns',
          parameters: [{ name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200 } }],
          responses: { '200': json({ type: 'object', properties: { runs: { type: 'array', items: ref('Run') } } }), ...errors(401) },
        },
        post: {
          summary: 'Run an inline workflow with inputs',
          operationId: 'runInline',
          parameters: [{ name: 'wait', in: 'query', required: false, schema: { type: 'boolean' } }],
          requestBody: { required: true, content: { 'application/json': { schema: ref('RunRequest') } } },
          responses: { '202': json(ref('Run'), 'Queued'), '200': json(ref('Run'), 'Finished (wait=true)'), ...errors(400, 401, 422, 429, 503) },
        },
      },
      '/v1/runs/{id}': { get: { summary: 'A run: status, progress, outputs', operationId: 'getRun', parameters: [idParam('id')], responses: { '200': json(ref('Run')), ...errors(401, 404) } } },
      '/v1/runs/{id}/cancel': { post: { summary: 'Cancel a run', operationId: 'cancelRun', parameters: [idParam('id')], responses: { '202': json(AnyObject), ...errors(400, 401, 404) } } },
      '/v1/models': {
        get: {
          summary: 'Installed models with kind, format, size, provenance',
          operationId: 'listModels',
          responses: { '200': json({ type: 'object', properties: { models: { type: 'array', items: ref('InstalledModel') }, default_model: { type: ['string', 'null'] } } }), ...errors(401) },
        },
      },
      '/v1/models/pull': {
        post: {
          summary: 'Pull a model from the Hugging Face Hub or an https URL (a job; verified, resumable)',
          operationId: 'pullModel',
          requestBody: { required: true, content: { 'application/json': { schema: ref('PullRequest') } } },
          responses: { '202': json(ref('Pull'), 'Started'), '200': json(ref('Pull'), 'Joined the unfinished pull of the same source'), ...errors(400, 401, 415, 422, 503) },
        },
      },
      '/v1/models/pulls': { get: { summary: 'Recent pulls, newest first', operationId: 'listPulls', responses: { '200': json({ type: 'object', properties: { pulls: { type: 'array', items: ref('Pull') } } }), ...errors(401) } } },
      '/v1/models/pulls/{id}': { get: { summary: 'A pull: status, progress, result or error', operationId: 'getPull', parameters: [idParam('id')], responses: { '200': json(ref('Pull')), ...errors(401, 404) } } },
      '/v1/models/pulls/{id}/cancel': { post: { summary: 'Cancel a pull (staged bytes stay for a resume)', operationId: 'cancelPull', parameters: [idParam('id')], responses: { '202': json(AnyObject), ...errors(401, 404) } } },
      '/v1/models/{name}': {
        delete: {
          summary: 'Delete an installed model (folder, or checkpoint and its provenance)',
          operationId: 'deleteModel',
          parameters: [idParam('name')],
          responses: { '200': json({ type: 'object', properties: { name: { type: 'string' }, format: { type: 'string' }, deleted: { const: true } } }), ...errors(400, 401, 404, 409) },
        },
      },
      '/health': { get: { summary: 'Models, execution provider, queue depth, worker state', operationId: 'health', security: [], responses: { '200': json(AnyObject), '503': json(AnyObject, 'No worker ready') } } },
      '/metrics': { get: { summary: 'Prometheus metrics', operationId: 'metrics', responses: { '200': { description: 'text/plain exposition', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    },
  };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function docsPage(doc: Json): string {
  const paths = doc.paths as Record<string, Record<string, { summary?: string; requestBody?: unknown; responses?: Record<string, unknown> }>>;
  const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
  const rows = Object.entries(paths)
    .flatMap(([p, ops]) =>
      Object.entries(ops).map(
        ([m, op]) => `<tr><td><code>${m.toUpperCase()}</code></td><td><code>${esc(p)}</code></td><td>${esc(op.summary ?? '')}</td><td>${Object.keys(op.responses ?? {}).join(' ')}</td></tr>`,
      ),
    )
    .join('\n');
  const schemaBlocks = Object.entries(schemas)
    .map(([n, s]) => `<details><summary><b>${esc(n)}</b></summary><pre>${esc(JSON.stringify(s, null, 2))}</pre></details>`)
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>maskflow API</title>
<style>body{font:14px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;width:100%}td{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:top}pre{background:#f6f6f6;padding:8px;overflow:auto}</style>
</head><body><h1>maskflow API ${esc(String((doc.info as Json).version))}</h1>
<p>${esc(String((doc.info as Json).description))} Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Errors are <code>{"error": {"code", "message", "field"?}}</code>. With API keys configured, send <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<h2>Endpoints</h2><table><tr><th>Method</th><th>Path</th><th>What</th><th>Statuses</th></tr>${rows}</table>
<h2>Schemas</h2>${schemaBlocks}</body></html>`;
}

export function openApiRoutes(deps: AppDeps): Router {
  const r = Router();
  let doc: Json | undefined;
  const get = () => (doc ??= buildOpenApi(deps));
  r.get('/openapi.json', (_req, res) => {
    res.json(get());
  });
  r.get('/docs', (_req, res) => {
    res.type('html').send(docsPage(get()));
  });
  return r;
}
