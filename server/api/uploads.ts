// POST /v1/uploads (multipart/form-data or a raw body) -> {id, url}. The URL (or upload:<id>)
// is accepted as image_url, mask_url and LoRA/embedding path. Only images and safetensors.
import busboy from 'busboy';
import { Router, type Request } from 'express';
import { HttpError } from '../http-errors.js';
import { baseUrl, fileUrl, type AppDeps } from './context.js';

interface Sniffed {
  contentType: string;
  ext: string;
}

/** Decides the type from the bytes, not from what the client claims. */
export function sniff(data: Uint8Array): Sniffed | undefined {
  const b = data;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return { contentType: 'image/png', ext: 'png' };
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { contentType: 'image/jpeg', ext: 'jpg' };
  if (b.length >= 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP') {
    return { contentType: 'image/webp', ext: 'webp' };
  }
  if (b.length >= 6 && /^GIF8[79]a$/.test(String.fromCharCode(...b.subarray(0, 6)))) return { contentType: 'image/gif', ext: 'gif' };
  // safetensors: u64 little-endian header length, then a JSON object.
  if (b.length >= 10) {
    const len = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
    if (len > 1 && len < b.length && b[8] === 0x7b) return { contentType: 'application/x-safetensors', ext: 'safetensors' };
  }
  return undefined;
}

export function collect(stream: NodeJS.ReadableStream, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    if ((stream as { readableEnded?: boolean }).readableEnded) return resolve(new Uint8Array(0));
    stream.on('close', () => reject(new HttpError(400, 'upload_aborted', 'the upload ended before its body was complete')));
    const chunks: Buffer[] = [];
    let total = 0;
    stream.on('data', (c: Buffer) => {
      total += c.length;
      if (total > limit) {
        reject(new HttpError(413, 'payload_too_large', `upload exceeds the limit of ${limit} bytes`));
        stream.removeAllListeners('data');
        stream.resume();
        return;
      }
      chunks.push(c);
    });
    stream.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    stream.on('error', reject);
  });
}

function readMultipart(req: Request, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: limit + 1 } });
    } catch (err) {
      reject(new HttpError(400, 'invalid_multipart', (err as Error).message));
      return;
    }
    let got: Promise<Uint8Array> | undefined;
    bb.on('file', (_name, stream) => {
      got ??= collect(stream, limit);
      got.catch(() => {});
    });
    bb.on('error', (err) => reject(new HttpError(400, 'invalid_multipart', (err as Error).message)));
    bb.on('close', () => {
      if (!got) reject(new HttpError(400, 'missing_file', 'multipart body has no file part', 'file'));
      else got.then(resolve, reject);
    });
    req.pipe(bb);
  });
}

export function uploadRoutes(deps: AppDeps): Router {
  const r = Router();
  const limit = Math.max(deps.config.maxBodyBytes, deps.config.maxModelFileBytes);
  r.post('/v1/uploads', async (req, res) => {
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, 'payload_too_large', `upload exceeds the limit of ${limit} bytes`);
    let data: Uint8Array;
    if (type.startsWith('multipart/form-data')) data = await readMultipart(req, limit);
    else if (type) data = await collect(req, limit);
    else throw new HttpError(415, 'unsupported_media_type', 'send multipart/form-data or the file itself with its Content-Type');
    if (!data.length) throw new HttpError(400, 'empty_upload', 'the upload is empty');
    const kind = sniff(data);
    if (!kind) throw new HttpError(415, 'unsupported_media_type', 'only PNG, JPEG, WebP, GIF images and .safetensors files can be uploaded');
    if (kind.contentType.startsWith('image/') && data.length > deps.config.maxImageBytes) {
      throw new HttpError(413, 'payload_too_large', `images may be at most ${deps.config.maxImageBytes} bytes`);
    }
    const stored = await deps.files.save(data, kind);
    res.status(201).json({ id: stored.id, url: fileUrl(baseUrl(deps, req), stored.id), content_type: stored.contentType, size: stored.size });
  });
  return r;
}
