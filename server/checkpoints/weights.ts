// Where a compiled graph's weights come from: byte ranges of safetensors files, addressed by
// the diffusers / transformers parameter name of the component. A source for diffusers
// folders is the identity; single SGM files map names (sgm-keys.ts) and may slice fused
// tensors (open_clip's in_proj q/k/v are contiguous row ranges) or need a transpose.
import type { SafetensorsDtype, TensorInfo } from '../models/safetensors.js';

export interface WeightRef {
  /** Absolute path of the safetensors file. */
  file: string;
  /** Key in that file (for messages and the unexpected-keys check). */
  key: string;
  dtype: SafetensorsDtype;
  /** Shape of this tensor (of the slice, for sliced refs). */
  shape: number[];
  offset: number;
  byteLength: number;
  /** The stored tensor is the transpose of the parameter (2-D only). */
  transposed?: boolean;
}

export interface WeightSource {
  /** The tensor of a component parameter, or undefined when the checkpoint lacks it. */
  get(name: string): WeightRef | undefined;
  /** Every key this source could serve, for the unexpected-keys check: key -> file. */
  keys(): Iterable<string>;
  /** Human name of where the weights come from (messages). */
  readonly label: string;
  /** Called with every parameter name a graph needs before any get() (SGM block numbering). */
  prepare?(paramNames: string[]): void;
  /** The file key a parameter would be read from (error messages for missing tensors). */
  keyOf?(name: string): string | undefined;
}


export function refOf(file: string, t: TensorInfo): WeightRef {
  return { file, key: t.name, dtype: t.dtype, shape: [...t.shape], offset: t.offset, byteLength: t.byteLength };
}

/** Rows [from, to) of a tensor stored row-major (a contiguous byte range). */
export function rowSlice(ref: WeightRef, from: number, to: number): WeightRef {
  const rows = ref.shape[0]!;
  if (from < 0 || to > rows || from >= to) throw new Error(`row slice [${from}, ${to}) out of ${ref.key} ${JSON.stringify(ref.shape)}`);
  const rowBytes = ref.byteLength / rows;
  return { ...ref, shape: [to - from, ...ref.shape.slice(1)], offset: ref.offset + from * rowBytes, byteLength: (to - from) * rowBytes };
}

/** A source over one file whose keys are `prefix + name` (diffusers folders: prefix ''). */
export class PrefixSource implements WeightSource {
  constructor(
    private readonly file: string,
    private readonly tensors: Map<string, TensorInfo>,
    private readonly prefix: string,
    readonly label: string,
    private readonly rename: (name: string) => string = (n) => n,
  ) {}

  get(name: string): WeightRef | undefined {
    const t = this.tensors.get(this.prefix + this.rename(name));
    return t ? refOf(this.file, t) : undefined;
  }

  *keys(): Iterable<string> {
    for (const k of this.tensors.keys()) if (k.startsWith(this.prefix)) yield k;
  }
}

/** Several files (sharded diffusers weights): the first that has the name serves it. */
export class MultiSource implements WeightSource {
  constructor(
    private readonly parts: WeightSource[],
    readonly label: string,
  ) {}

  get(name: string): WeightRef | undefined {
    for (const p of this.parts) {
      const r = p.get(name);
      if (r) return r;
    }
    return undefined;
  }

  *keys(): Iterable<string> {
    for (const p of this.parts) yield* p.keys();
  }
}
