// Where image and mask bytes come from: an http(s) URL (SSRF-checked), a data URI, an
// uploaded file (`upload:<id>` or `/v1/files/<id>`), or a local path when the config
// allows it (the CLI does; the server does not).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import type { FileStore } from '../engine/context.js';
import { NodeError } from '../engine/errors.js';
import { isDataUri, parseDataUri } from './data-uri.js';
import { safeFetch, type Resolver } from './fetch.js';

export type SourceKind = 'data' | 'http' | 'upload' | 'file';

export interface SourceBytes {
  bytes: Uint8Array;
  contentType: string;
  kind: SourceKind;
}

export interface SourceOptions {
  config: Pick<Config, 'maxImageBytes' | 'fetchTimeoutMs' | 'maxRedirects' | 'urlAllowlist' | 'allowLocalPaths'>;
  files?: Pick<FileStore, 'read'>;
  signal?: AbortSignal;
  /** DNS override for tests. */
  resolve?: Resolver;
}

const UPLOAD = /^(?:upload:|\/v1\/files\/)([A-Za-z0-9_-]{1,128})(?:[?#].*)?$/;
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/** The upload id a source string names, if it names one. */
export function uploadIdOf(source: string): string | undefined {
  return UPLOAD.exec(source.trim())?.[1];
}

/** Classifies a source string without reading it. */
export function sourceKind(source: string): SourceKind | undefined {
  const s = source.trim();
  if (!s) return undefined;
  if (isDataUri(s)) return 'data';
  if (UPLOAD.test(s)) return 'upload';
  const scheme = SCHEME.exec(s)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return 'http';
  if (scheme === 'file' || !scheme || /^[a-zA-Z]:[\\/]/.test(s)) return 'file';
  return undefined;
}

export async function readSource(source: string, opts: SourceOptions): Promise<SourceBytes> {
  const s = source.trim();
  const { config } = opts;
  const kind = sourceKind(s);
  if (!s) throw new NodeError('source_missing', 'no image given: set a URL, data URI or upload id');
  switch (kind) {
    case 'data': {
      const { bytes, contentType } = parseDataUri(s, config.maxImageBytes);
      return { bytes, contentType, kind };
    }
    case 'upload': {
      const id = uploadIdOf(s)!;
      if (!opts.files) throw new NodeError('upload_not_found', `upload "${id}" cannot be read here (no file store)`);
      const file = await opts.files.read(id);
      if (!file) throw new NodeError('upload_not_found', `no uploaded file with id "${id}"`);
      if (file.data.byteLength > config.maxImageBytes) {
        throw new NodeError('url_too_large', `upload "${id}" is ${file.data.byteLength} bytes; the limit is ${config.maxImageBytes}`);
      }
      return { bytes: file.data, contentType: file.contentType, kind };
    }
    case 'http': {
      const res = await safeFetch(s, {
        allowlist: config.urlAllowlist,
        maxBytes: config.maxImageBytes,
        timeoutMs: config.fetchTimeoutMs,
        maxRedirects: config.maxRedirects,
        signal: opts.signal,
        resolve: opts.resolve,
        headers: { accept: 'image/*,*/*;q=0.5' },
      });
      return { bytes: res.bytes, contentType: res.contentType, kind };
    }
    case 'file': {
      if (!config.allowLocalPaths) {
        throw new NodeError('local_paths_not_allowed', `"${s.slice(0, 80)}" is not an http(s) URL, data URI or upload id; local paths are only allowed from the CLI`);
      }
      const file = s.toLowerCase().startsWith('file:') ? fileURLToPath(s) : path.resolve(s);
      let size: number;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        throw new NodeError('file_not_found', `no readable file at "${file}"`);
      }
      if (size > config.maxImageBytes) throw new NodeError('url_too_large', `"${file}" is ${size} bytes; the limit is ${config.maxImageBytes}`);
      return { bytes: new Uint8Array(await readFile(file)), contentType: 'application/octet-stream', kind };
    }
    default:
      throw new NodeError('url_scheme_not_allowed', `"${s.slice(0, 40)}" has a scheme that is not allowed; use http(s), a data URI or an upload id`);
  }
}
