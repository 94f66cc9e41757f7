// Where ControlNets come from: a folder or file in <modelsDir>/controlnet, an uploaded file
// or an http(s) URL (downloaded once, by content hash, like LoRAs). Resolving also compiles
// and loads it, so a bad ControlNet fails at the node that names it.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileStore } from '../engine/context.js';
import { NodeError } from '../engine/errors.js';
import type { ModelSources } from '../models/model-sources.js';
import type { ModelStore } from '../models/model-store.js';
import type { ControlNetRef } from './controlnet.js';

export async function resolveControlNet(
  source: string,
  opts: { models: ModelStore; sources: ModelSources; files?: FileStore; signal?: AbortSignal; param?: string },
): Promise<ControlNetRef> {
  const param = opts.param ?? 'controlnet';
  const src = source.trim();
  if (!src) throw new NodeError('invalid_param', 'no ControlNet named', { param });
  let ref: ControlNetRef;
  const root = path.resolve(opts.models.options.modelsDir, 'controlnet');
  const folder = path.resolve(root, src);
  if (folder.startsWith(root + path.sep) && (await stat(folder).catch(() => undefined))?.isDirectory()) ref = { path: folder, name: src };
  else {
    const r = await opts.sources.resolve('controlnet', src, { files: opts.files, signal: opts.signal, param });
    ref = { path: r.path, name: r.name, sha256: r.sha256 };
  }
  try {
    await opts.models.controlNet(ref.path);
  } catch (err) {
    if (err instanceof NodeError) throw new NodeError(err.code, err.message, { ...err.details, param });
    throw err;
  }
  return ref;
}
