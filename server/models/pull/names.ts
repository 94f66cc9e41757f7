// Names a pull gives and shows: the model name a request may ask for, one made from a file name,
// the file name a server sends in Content-Disposition, and URLs with their credentials removed.
import path from 'node:path';
import { NodeError } from '../../engine/errors.js';
import { CHECKPOINTS_DIR } from './provenance.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const RESERVED = new Set([CHECKPOINTS_DIR, 'loras', 'embeddings']);

export function validateModelName(name: string, param = 'name'): string {
  if (!NAME.test(name) || RESERVED.has(name) || name.endsWith('.safetensors'))
    throw new NodeError('invalid_param', `model name "${name.slice(0, 100)}" must be 1-128 letters, digits, ".", "_" or "-" (not starting with "." and not ${[...RESERVED].join('/')})`, { param });
  return name;
}

/** A free-text file name made into a model name. */
export function nameFromFile(file: string): string {
  const stem = file.replace(/\.(safetensors|ckpt|bin|pt|pth)$/i, '').replace(/\.(fp16|fp32|bf16)$/i, '');
  const clean = stem.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 128);
  return clean || 'model';
}

/** File name from Content-Disposition (RFC 6266: filename* wins over filename). */
export function contentDispositionName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      return path.posix.basename(decodeURIComponent(star[2]!.trim().replace(/^"|"$/g, '')));
    } catch {
      /* fall back to filename= */
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
  const v = plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2]?.trim();
  return v ? path.posix.basename(v.replace(/\\/g, '/')) : undefined;
}

const SECRET_PARAMS = /^(token|api_?key|key|access_?token|auth|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token)$/i;

/** A URL as provenance and job views show it: credentials in the query (Civitai's `token=`) and user info removed. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) if (SECRET_PARAMS.test(k)) u.searchParams.set(k, 'REDACTED');
    return u.href;
  } catch {
    return raw;
  }
}
