// The HTTP application: auth, limits, CORS, the REST routes and JSON errors. Nothing here
// runs inference: jobs go to the queue, whose workers run them off the event loop.
import { existsSync } from 'node:fs';
import express, { type Express, type RequestHandler } from 'express';
import { ApiKeys, authMiddleware, RateLimiter } from './auth.js';
import { errorMiddleware, HttpError } from './http-errors.js';
import type { AppDeps } from './api/context.js';
import { fileRoutes } from './api/files.js';
import { healthRoutes } from './api/health.js';
import { internalFileRoutes } from './api/internal-files.js';
import { inpaintRoutes } from './api/inpaint.js';
import { metricsRoutes } from './api/metrics.js';
import { modelRoutes } from './api/models.js';
import { nodeRoutes } from './api/nodes.js';
import { openApiRoutes } from './api/openapi.js';
import { runRoutes } from './api/runs.js';
import { uploadRoutes } from './api/uploads.js';
import { workflowRoutes } from './api/workflows.js';
import { INTERNAL_FILES_PATH } from './queue/remote-protocol.js';
import { comfyRoutes, isComfyCapabilityPath, isComfyPath } from './comfy/routes.js';
import type { ComfyService } from './comfy/service.js';

export type { AppDeps } from './api/context.js';

export interface Auth {
  keys: ApiKeys;
  limiter: RateLimiter;
}

export function createAuth(deps: Pick<AppDeps, 'config'>): Auth {
  return { keys: new ApiKeys(deps.config.apiKeys), limiter: new RateLimiter(deps.config.rateLimitPerMinute) };
}

/** Paths that need no API key: probes, the API description, capability URLs of files, the editor's static files. */
export function isPublicPath(path: string, method: string): boolean {
  if (path === '/health' || path === '/openapi.json' || path === '/docs') return true;
  if (isComfyCapabilityPath(path, method)) return true;
  if (isComfyPath(path)) return false;
  if (method === 'GET' && path.startsWith('/v1/files/')) return true;
  return !path.startsWith('/v1/') && path !== '/metrics';
}

function cors(origins: string[]): RequestHandler {
  const any = origins.includes('*');
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && (any || origins.includes(origin))) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Idempotency-Key');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
      res.setHeader('Access-Control-Max-Age', '600');
      if (req.method === 'OPTIONS') {
        res.status(204).end();
        return;
      }
    }
    next();
  };
}

/** Routes that read their own (raw or multipart) body, whatever Content-Type they claim (ComfyUI's too). */
const RAW_BODY_PATHS = new Set(['/v1/uploads', INTERNAL_FILES_PATH]);
const readsOwnBody = (path: string) => RAW_BODY_PATHS.has(path) || isComfyPath(path);

/** JSON endpoints refuse other media types with 415 instead of seeing an empty body. */
const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody || readsOwnBody(req.path) || !['POST', 'PUT', 'PATCH'].includes(req.method)) return next();
  if (!req.is('application/json') && !req.is('+json')) {
    return next(new HttpError(415, 'unsupported_media_type', `send application/json (got ${req.headers['content-type'] ?? 'no Content-Type'})`));
  }
  next();
};

export function createApp(deps: AppDeps, auth: Auth = createAuth(deps), comfy?: ComfyService): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? (res.statusCode === 404 ? 'unmatched' : req.path.split('/').slice(0, 3).join('/'));
      deps.metrics.httpRequests.inc({ method: req.method, route: String(route), status: String(res.statusCode) });
      if (res.statusCode >= 400) deps.metrics.errors.inc({ code: `http_${res.statusCode}` });
      if ((res.statusCode === 401 || res.statusCode === 403) && req.path.startsWith('/v1/internal/')) deps.metrics.refusedWorkers.inc();
    });
    next();
  });
  if (deps.config.corsOrigins.length) app.use(cors(deps.config.corsOrigins));
  // Workers store every output they produce: a client rate limit must not fail their jobs.
  const isUnlimited = (path: string) => path === INTERNAL_FILES_PATH;
  app.use(authMiddleware({ keys: auth.keys, limiter: auth.limiter, isPublic: isPublicPath, isUnlimited }));
  app.use(requireJson);
  const json = express.json({ limit: deps.config.maxBodyBytes, type: ['application/json', 'application/*+json'] });
  app.use((req, res, next) => (readsOwnBody(req.path) ? next() : json(req, res, next)));

  app.use(healthRoutes(deps));
  app.use(metricsRoutes(deps));
  app.use(openApiRoutes(deps));
  app.use(inpaintRoutes(deps));
  app.use(runRoutes(deps));
  app.use(workflowRoutes(deps));
  app.use(uploadRoutes(deps));
  if (deps.config.redisUrl) app.use(internalFileRoutes(deps));
  app.use(fileRoutes(deps));
  app.use(nodeRoutes(deps));
  app.use(modelRoutes(deps));
  if (comfy) app.use(comfyRoutes(deps, comfy));

  if (deps.staticDir && existsSync(deps.staticDir)) app.use(express.static(deps.staticDir, { index: 'index.html' }));
  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorMiddleware(deps.logger));
  return app;
}
