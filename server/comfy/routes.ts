// ComfyUI's HTTP routes (server.py), served at / and under /api/ like current ComfyUI.
// JSON bodies are read whatever the Content-Type (some clients send none); uploads are
// multipart. Errors of prompt validation keep ComfyUI's {error, node_errors} shape.
import os from 'node:os';
import busboy from 'busboy';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { collect } from '../api/uploads.js';
import type { AppDeps } from '../api/context.js';
import { ApiKeys, keyFromAuthorization } from '../auth.js';
import { HttpError, notFound } from '../http-errors.js';
import { FOLDER_TYPES, parseAnnotated, type FolderType } from './files.js';
import { importComfy } from './import.js';
import { objectInfo, objectInfoOf } from './object-info.js';
import type { ComfyService } from './service.js';
import { ComfyValidationError } from './spec.js';

const ROUTES = [
  'prompt',
  'queue',
  'history',
  'history/[^/]+',
  'view',
  'upload/image',
  'upload/mask',
  'object_info',
  'object_info/[^/]+',
  'system_stats',
  'embeddings',
  'extensions',
  'models',
  'models/[^/]+',
  'interrupt',
  'free',
  'features',
];
const COMFY_PATH = new RegExp(`^(?:/api)?/(?:${ROUTES.join('|')})/?$`);
/** maskflow's own route (keyed like /v1/*): the editor sends ComfyUI workflow files here. */
export const IMPORT_PATH = '/v1/comfy/import';

/** Paths this layer answers (the app exempts them from its JSON-only body rule; all need the API key). */
export function isComfyPath(path: string): boolean {
  return COMFY_PATH.test(path) || path === IMPORT_PATH;
}

/**
 * GET /view passes the app's key check: a job output's name carries its unguessable file id, a
 * capability like /v1/files/<id> (clients fetch result URLs without headers); the route itself
 * asks for the key for everything else.
 */
export function isComfyCapabilityPath(path: string, method: string): boolean {
  return method === 'GET' && (path === '/view' || path === '/api/view');
}

interface Multipart {
  file?: { data: Uint8Array; filename: string };
  fields: Record<string, string>;
}

function readMultipart(req: Request, limit: number): Promise<Multipart> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, preservePath: true, limits: { files: 1, fileSize: limit + 1, fields: 20, fieldSize: 64 * 1024 } });
    } catch (err) {
      reject(new HttpError(400, 'invalid_multipart', `send multipart/form-data: ${(err as Error).message}`));
      return;
    }
    const out: Multipart = { fields: {} };
    let file: Promise<Uint8Array> | undefined;
    let filename = '';
    bb.on('file', (name, stream, info) => {
      if (name !== 'image' || file) {
        stream.resume();
        return;
      }
      filename = info.filename ?? '';
      file = collect(stream, limit);
      file.catch(() => {});
    });
    bb.on('field', (name, value) => {
      out.fields[name] = value;
    });
    bb.on('error', (err) => reject(new HttpError(400, 'invalid_multipart', (err as Error).message)));
    bb.on('close', () => {
      if (!file) return resolve(out);
      file.then((data) => resolve({ ...out, file: { data, filename } }), reject);
    });
    req.pipe(bb);
  });
}

const folderType = (v: unknown, fallback: FolderType, field: string): FolderType => {
  if (v === undefined || v === '') return fallback;
  if (typeof v === 'string' && (FOLDER_TYPES as readonly string[]).includes(v)) return v as FolderType;
  throw new HttpError(400, 'invalid_type', `${field} must be one of ${FOLDER_TYPES.join(', ')}`, field);
};

const ids = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

export function comfyRoutes(deps: AppDeps, service: ComfyService): Router {
  const r = Router();
  // Any Content-Type (or none) is read as JSON; an empty body is {}.
  const json: RequestHandler = express.json({ limit: deps.config.maxBodyBytes, type: () => true });
  const body = (req: Request) => (req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {});
  const owner = (res: Response) => res.locals.identity as string | undefined;
  const ok = (res: Response) => res.status(200).json({});
  const mount = (p: string) => [`/${p}`, `/api/${p}`];
  const keys = new ApiKeys(deps.config.apiKeys);

  r.post(mount('prompt'), json, async (req, res) => {
    try {
      res.json(await service.submit(body(req), owner(res)));
    } catch (err) {
      if (err instanceof ComfyValidationError) {
        res.status(400).json(err.body);
        return;
      }
      if (err instanceof HttpError && err.code === 'no_prompt') {
        res.status(400).json({ error: 'no prompt', node_errors: [] });
        return;
      }
      throw err;
    }
  });
  r.get(mount('prompt'), (_req, res) => {
    res.json({ exec_info: { queue_remaining: service.queueRemaining() } });
  });

  r.get(mount('queue'), (_req, res) => {
    res.json(service.queue(owner(res)));
  });
  r.post(mount('queue'), json, (req, res) => {
    const b = body(req);
    if (b.clear === true) service.clearQueue(owner(res));
    if (b.delete !== undefined) service.deleteQueued(ids(b.delete), owner(res));
    ok(res);
  });

  r.get(mount('history'), (req, res) => {
    const num = (v: unknown, field: string) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new HttpError(400, 'invalid_parameter', `${field} must be a non-negative integer`, field);
      return n;
    };
    res.json(service.history(owner(res), num(req.query.max_items, 'max_items'), num(req.query.offset, 'offset')));
  });
  r.get(mount('history/:id'), (req, res) => {
    res.json(service.historyOf(String(req.params.id), owner(res)));
  });
  r.post(mount('history'), json, (req, res) => {
    const b = body(req);
    if (b.clear === true) service.clearHistory(owner(res));
    if (b.delete !== undefined) service.deleteHistory(ids(b.delete), owner(res));
    ok(res);
  });

  r.post(mount('interrupt'), json, (req, res) => {
    const id = body(req).prompt_id;
    service.interrupt(typeof id === 'string' ? id : undefined, owner(res));
    ok(res);
  });
  r.post(mount('free'), json, (_req, res) => ok(res));

  r.get(mount('view'), async (req, res) => {
    const q = req.query as Record<string, unknown>;
    if (typeof q.filename !== 'string' || !q.filename) throw notFound('file');
    const { name, type: annotated } = parseAnnotated(q.filename);
    const type = annotated ?? folderType(q.type, 'output', 'type');
    const subfolder = typeof q.subfolder === 'string' ? q.subfolder : '';
    const file = service.files.resolve(name, subfolder, type); // refuses traversal first
    const id = type !== 'input' ? await service.files.storedId(name) : undefined;
    const stored = id ? await deps.files.pathOf(id) : undefined;
    const meta = id ? await deps.files.meta(id) : undefined;
    if (!(stored && meta) && !keys.check(keyFromAuthorization(req.headers.authorization))) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpError(401, 'unauthorized', 'an API key is required (Authorization: Bearer <key> or Key <key>)');
    }
    res.setHeader('Content-Disposition', `filename="${name.replace(/["\\\r\n]/g, '_')}"`);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (stored && meta) {
      res.setHeader('Content-Type', meta.contentType);
      res.sendFile(stored);
      return;
    }
    res.sendFile(file, { dotfiles: 'deny' }, (err) => {
      if (err && !res.headersSent) res.status(404).json({ error: { code: 'not_found', message: `${type} file "${name}" not found` } });
    });
  });

  const upload = (mask: boolean) => async (req: Request, res: Response) => {
    const declared = Number(req.headers['content-length']);
    const limit = deps.config.maxImageBytes;
    if (Number.isFinite(declared) && declared > limit + 64 * 1024) throw new HttpError(413, 'payload_too_large', `upload exceeds the limit of ${limit} bytes`);
    const form = await readMultipart(req, limit);
    if (!form.file || !form.file.filename) throw new HttpError(400, 'missing_file', 'send the image as the multipart field "image" with a file name', 'image');
    await service.files.checkImage(form.file.data);
    const type = folderType(form.fields.type, 'input', 'type');
    const subfolder = form.fields.subfolder ?? '';
    const overwrite = form.fields.overwrite === 'true' || form.fields.overwrite === '1';
    let compose: (() => Promise<Uint8Array>) | undefined;
    if (mask) {
      const refText = form.fields.original_ref ?? form.fields.originalRef;
      let ref: { filename?: unknown; subfolder?: unknown; type?: unknown };
      try {
        ref = JSON.parse(refText ?? '') as typeof ref;
      } catch {
        throw new HttpError(400, 'invalid_original_ref', 'original_ref must be JSON {filename, subfolder, type}', 'original_ref');
      }
      if (typeof ref?.filename !== 'string') throw new HttpError(400, 'invalid_original_ref', 'original_ref.filename is required', 'original_ref');
      const { name, type: annotated } = parseAnnotated(ref.filename);
      const original = await service.files.read(name, typeof ref.subfolder === 'string' ? ref.subfolder : '', annotated ?? folderType(ref.type, 'output', 'original_ref.type'));
      const data = form.file.data;
      compose = () => service.files.composeMask(data, original);
    }
    res.json(await service.files.save(form.file.data, form.file.filename, subfolder, type, overwrite, compose));
  };
  r.post(mount('upload/image'), upload(false));
  r.post(mount('upload/mask'), upload(true));

  r.post(IMPORT_PATH, async (req, res) => {
    const limit = Math.max(deps.config.maxBodyBytes, deps.config.maxImageBytes);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, 'payload_too_large', `file exceeds the limit of ${limit} bytes`);
    const data = await collect(req, limit);
    const result = await importComfy(data, deps.registry);
    if (!result) throw new HttpError(422, 'no_comfyui_workflow', 'no ComfyUI workflow found: send UI-format JSON (nodes + links), an API prompt, or a PNG with prompt/workflow text chunks');
    res.json({ format: result.format, workflow: result.workflow, untranslated: result.untranslated });
  });

  r.get(mount('object_info'), async (_req, res) => {
    res.json(objectInfo(deps.registry, await service.env()));
  });
  r.get(mount('object_info/:cls'), async (req, res) => {
    res.json(objectInfoOf(String(req.params.cls), deps.registry, await service.env()));
  });

  r.get(mount('system_stats'), (_req, res) => {
    const ep = deps.health.executionProvider();
    res.json({
      system: {
        os: process.platform,
        ram_total: os.totalmem(),
        ram_free: os.freemem(),
        comfyui_version: `maskflow-${deps.versions.maskflow ?? 'dev'}`,
        python_version: `none (maskflow on Node ${process.versions.node})`,
        pytorch_version: `none (onnxruntime ${deps.versions.onnxruntime ?? ''})`.replace(' )', ')'),
        embedded_python: false,
        argv: process.argv,
      },
      devices: [{ name: `onnxruntime ${ep}`, type: ep === 'cuda' ? 'cuda' : 'cpu', index: 0, vram_total: 0, vram_free: 0, torch_vram_total: 0, torch_vram_free: 0 }],
    });
  });
  r.get(mount('embeddings'), async (_req, res) => {
    res.json(await service.embeddings());
  });
  r.get(mount('extensions'), (_req, res) => {
    res.json([]);
  });
  r.get(mount('features'), (_req, res) => {
    res.json({ supports_preview_metadata: false, max_upload_size: deps.config.maxImageBytes });
  });
  r.get(mount('models'), (_req, res) => {
    res.json(['checkpoints', 'loras', 'embeddings', 'controlnet']);
  });
  r.get(mount('models/:folder'), async (req, res) => {
    switch (req.params.folder) {
      case 'checkpoints':
        return void res.json(service.checkpoints());
      case 'loras':
        return void res.json(await service.loras());
      case 'embeddings':
        return void res.json(await service.embeddings());
      case 'controlnet':
        return void res.json(await service.controlnets());
      default:
        throw notFound(`model folder "${req.params.folder}"`);
    }
  });
  return r;
}
