// Request-body validation with ajv: every problem named by its field, the first one
// summarised in the error envelope, all of them under `problems`.
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { createAjv } from '../engine/registry.js';
import { HttpError } from '../http-errors.js';

export interface FieldProblem {
  field: string;
  code: string;
  message: string;
}

const CODE_OF: Record<string, string> = {
  required: 'missing_parameter',
  additionalProperties: 'unknown_parameter',
  type: 'invalid_type',
  minimum: 'out_of_range',
  maximum: 'out_of_range',
  exclusiveMinimum: 'out_of_range',
  exclusiveMaximum: 'out_of_range',
  minLength: 'invalid_length',
  maxLength: 'invalid_length',
  minItems: 'invalid_length',
  maxItems: 'invalid_length',
  enum: 'invalid_value',
  const: 'invalid_value',
  pattern: 'invalid_value',
  anyOf: 'invalid_value',
  format: 'invalid_value',
};

function fieldOf(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String(e.params.missingProperty));
  if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty));
  return parts.join('.');
}

function messageOf(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a known parameter';
    case 'enum':
      return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return e.message ?? 'is invalid';
  }
}

/**
 * One problem per field. Errors inside a union (e.g. image_size: preset or {width, height})
 * are reported at the deepest field when there is one, else as what the union accepts.
 */
export function describeErrors(errors: ErrorObject[], unionMessages: Record<string, string> = {}): FieldProblem[] {
  const byField = new Map<string, FieldProblem>();
  const add = (p: FieldProblem) => {
    if (!byField.has(p.field)) byField.set(p.field, p);
  };
  const unions = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const field = fieldOf(e) || '(body)';
    const top = field.split('.')[0]!;
    if (unionMessages[top] !== undefined) {
      unions.set(top, [...(unions.get(top) ?? []), e]);
      if (!byField.has(top)) byField.set(top, { field: top, code: 'invalid_value', message: unionMessages[top] });
      continue;
    }
    add({ field, code: CODE_OF[e.keyword] ?? 'invalid_value', message: messageOf(e) });
  }
  for (const [top, errs] of unions) {
    const deep = errs.filter((e) => fieldOf(e) !== top && e.keyword !== 'anyOf');
    if (!deep.length) continue;
    byField.delete(top);
    for (const e of deep) add({ field: fieldOf(e), code: CODE_OF[e.keyword] ?? 'invalid_value', message: messageOf(e) });
  }
  return [...byField.values()];
}

export function compileBody<T>(schema: TSchema, unionMessages: Record<string, string> = {}): (body: unknown) => T {
  const validate: ValidateFunction = createAjv().compile(schema);
  return (body) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpError(400, 'invalid_body', 'request body must be a JSON object');
    }
    if (!validate(body)) throw validationError(describeErrors(validate.errors ?? [], unionMessages));
    return body as T;
  };
}

export function validationError(problems: FieldProblem[]): HttpError {
  const first = problems[0] ?? { field: '(body)', code: 'invalid_value', message: 'is invalid' };
  return new HttpError(422, first.code, `${first.field} ${first.message}`, first.field, problems.length > 1 ? { problems } : {});
}
