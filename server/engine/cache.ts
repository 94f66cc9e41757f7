// Input-signature cache (ComfyUI's idea): a node's key hashes its type, params,
// fingerprint and its inputs' keys, so a change re-runs only what depends on it.
import { createHash } from 'node:crypto';

/** Deterministic JSON: object keys sorted, so equal params give equal keys. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`)
    .join(',')}}`;
}

export function nodeCacheKey(parts: {
  type: string;
  params: Record<string, unknown>;
  inputs: Record<string, { key: string; output: string }>;
  fingerprint?: string;
}): string {
  return createHash('sha256').update(stableStringify(parts)).digest('hex');
}

/** Rough retained size of a node output: typed arrays and strings dominate. */
export function estimateBytes(value: unknown, seen = new Set<unknown>()): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return value.length * 2;
  if (typeof value !== 'object') return 8;
  if (seen.has(value)) return 0;
  seen.add(value);
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (value instanceof ArrayBuffer) return value.byteLength;
  let total = 16;
  for (const v of Array.isArray(value) ? value : Object.values(value as object)) total += estimateBytes(v, seen);
  return total;
}

interface Entry {
  value: Record<string, unknown>;
  bytes: number;
}

/** LRU bounded by bytes. A value larger than the bound is not kept. */
export class OutputCache {
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): Record<string, unknown> | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.value;
  }

  set(key: string, value: Record<string, unknown>): void {
    const bytes = estimateBytes(value);
    const old = this.entries.get(key);
    if (old) {
      this.used -= old.bytes;
      this.entries.delete(key);
    }
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { value, bytes });
    this.used += bytes;
    for (const [k, e] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(k);
      this.used -= e.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.used;
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}
