// Widget descriptions generated from a node's param JSON Schema. Pure (no litegraph), so the
// mapping is unit-tested; widgets.ts turns these into LiteGraph widgets.
import type { JsonSchema } from '../types.js';

interface Base {
  name: string;
  /** Shown on the widget; the param name with spaces. */
  label: string;
  tooltip: string;
  default: unknown;
}

export interface NumberSpec extends Base {
  kind: 'number' | 'seed';
  default: number;
  integer: boolean;
  min?: number;
  max?: number;
  step: number;
  precision: number;
}

export interface ComboSpec extends Base {
  kind: 'combo';
  values: (string | number)[];
}

export interface ToggleSpec extends Base {
  kind: 'toggle';
  default: boolean;
}

export interface TextSpec extends Base {
  kind: 'text';
  default: string;
  multiline: boolean;
}

/** Anything else (objects, arrays, unions): edited as JSON text. */
export interface JsonSpec extends Base {
  kind: 'json';
}

export type WidgetSpec = NumberSpec | ComboSpec | ToggleSpec | TextSpec | JsonSpec;

/** Params whose values are prompts or long text get a multi-line editor. */
const MULTILINE_NAMES = /(^|_)(text|prompt|negative|description|template|caption)$/;
/** Seeds get a randomize toggle. */
const SEED_NAMES = /(^|_)seed$/;

export function widgetSpecs(schema: JsonSchema): WidgetSpec[] {
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => widgetSpec(name, prop));
}

export function widgetSpec(name: string, prop: JsonSchema): WidgetSpec {
  const base = { name, label: name.replace(/_/g, ' '), tooltip: prop.description ?? '' };
  const values = enumValues(prop);
  if (values) return { ...base, kind: 'combo', values, default: prop.default ?? values[0] };
  const type = primaryType(prop);
  if (type === 'boolean') return { ...base, kind: 'toggle', default: prop.default === true };
  if (type === 'integer' || type === 'number') return numberSpec(name, prop, type === 'integer', base);
  if (type === 'string') {
    const multiline = MULTILINE_NAMES.test(name) || (prop.maxLength ?? 0) > 256;
    return { ...base, kind: 'text', default: typeof prop.default === 'string' ? prop.default : '', multiline };
  }
  return { ...base, kind: 'json', default: prop.default ?? null };
}

function numberSpec(name: string, prop: JsonSchema, integer: boolean, base: Omit<Base, 'default'>): NumberSpec {
  const min = prop.minimum ?? (prop.exclusiveMinimum !== undefined ? prop.exclusiveMinimum : undefined);
  const max = prop.maximum ?? (prop.exclusiveMaximum !== undefined ? prop.exclusiveMaximum : undefined);
  let step: number;
  if (prop.multipleOf !== undefined) step = prop.multipleOf;
  else if (integer) step = 1;
  else if (min !== undefined && max !== undefined && max - min <= 2) step = 0.01;
  else if (min !== undefined && max !== undefined && max - min <= 20) step = 0.1;
  else step = 0.5;
  if (integer) step = Math.max(1, Math.round(step));
  const precision = integer ? 0 : Math.min(6, Math.max(decimals(step), decimals(typeof prop.default === 'number' ? prop.default : 0)));
  const fallback = min !== undefined && min > 0 ? min : 0;
  const def = typeof prop.default === 'number' ? prop.default : fallback;
  const spec: NumberSpec = { ...base, kind: SEED_NAMES.test(name) && integer ? 'seed' : 'number', default: def, integer, step, precision };
  if (min !== undefined) spec.min = min;
  if (max !== undefined) spec.max = max;
  return spec;
}

/** Clamps and rounds a number the way the param's schema allows. */
export function normaliseNumber(spec: NumberSpec, value: number): number {
  let v = Number.isFinite(value) ? value : spec.default;
  if (spec.min !== undefined) v = Math.max(spec.min, v);
  if (spec.max !== undefined) v = Math.min(spec.max, v);
  if (spec.integer) return Math.round(v);
  const f = 10 ** spec.precision;
  return Math.round(v * f) / f;
}

/** A random seed within the spec's range (the server's seeds are 32-bit unless the schema says less). */
export function randomSeed(spec: NumberSpec, random: () => number = Math.random): number {
  const lo = spec.min ?? 0;
  const hi = Math.min(spec.max ?? 2 ** 32 - 1, Number.MAX_SAFE_INTEGER);
  return lo + Math.floor(random() * (hi - lo + 1));
}

function enumValues(prop: JsonSchema): (string | number)[] | undefined {
  if (Array.isArray(prop.enum)) return prop.enum.filter(isScalar);
  const alts = prop.anyOf ?? prop.oneOf;
  if (alts && alts.length && alts.every((a) => a.const !== undefined && isScalar(a.const))) return alts.map((a) => a.const as string | number);
  return undefined;
}

function primaryType(prop: JsonSchema): string | undefined {
  if (Array.isArray(prop.type)) return prop.type.find((t) => t !== 'null');
  return prop.type;
}

function isScalar(v: unknown): v is string | number {
  return typeof v === 'string' || typeof v === 'number';
}

function decimals(v: number): number {
  const s = String(v);
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  return s.includes('.') ? s.split('.')[1]!.length : 0;
}
