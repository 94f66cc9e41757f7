// Every error leaves the server as JSON {error: {code, message, field?}} with a fitting status.
// Routes throw HttpError; the error middleware turns anything else into a 4xx/500 without crashing.
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from './log.js';

export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  [extra: string]: unknown;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.field !== undefined ? { field: this.field } : {}), ...this.extra };
  }
}

export const badRequest = (code: string, message: string, field?: string) => new HttpError(400, code, message, field);
export const unprocessable = (code: string, message: string, field?: string, extra?: Record<string, unknown>) =>
  new HttpError(422, code, message, field, extra);
export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);

export function sendError(res: Response, err: HttpError): void {
  if (res.headersSent) return;
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.status(err.status).json({ error: err.body() });
}

/** Maps body-parser and other well-known library errors onto our codes. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { type?: string; status?: number; message?: string; expose?: boolean };
  switch (e?.type) {
    case 'entity.too.large':
      return new HttpError(413, 'payload_too_large', 'request body is larger than the server accepts');
    case 'entity.parse.failed':
      return new HttpError(400, 'invalid_json', `request body is not valid JSON: ${e.message ?? ''}`.trim());
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported_media_type', e.message ?? 'unsupported encoding');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new HttpError(e.status, 'bad_request', e.expose !== false && e.message ? e.message : 'bad request');
  }
  return new HttpError(500, 'internal', 'internal server error');
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const httpErr = toHttpError(err);
    if (httpErr.status >= 500) logger.error({ err, method: req.method, url: req.originalUrl }, 'request failed');
    sendError(res, httpErr);
  };
}
