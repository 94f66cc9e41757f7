// The node SDK: a node is a declarative schema plus a stateless async execute().
import type { Static, TObject } from '@sinclair/typebox';
import type { PortType, PortValueMap } from './ports.js';
import type { ExecutionContext } from './context.js';

export interface InputSpec {
  type: PortType;
  /** An optional input may stay unlinked; execute() then receives undefined. */
  optional?: boolean;
  description?: string;
}

export interface OutputSpec {
  type: PortType;
  description?: string;
}

export type InputSpecs = Record<string, InputSpec>;
export type OutputSpecs = Record<string, OutputSpec>;

export type InputValues<I extends InputSpecs> = {
  [K in keyof I]: I[K]['optional'] extends true
    ? PortValueMap[I[K]['type']] | undefined
    : PortValueMap[I[K]['type']];
};

export type OutputValues<O extends OutputSpecs> = { [K in keyof O]: PortValueMap[O[K]['type']] };

/** JSON-serialisable result an output node reports to the caller (saved files, flags, text). */
export type NodeResult = Record<string, unknown>;

export type ExecuteResult<O extends OutputSpecs> = OutputValues<O> & { ui?: NodeResult };

export interface NodeDefinition<
  P extends TObject = TObject,
  I extends InputSpecs = InputSpecs,
  O extends OutputSpecs = OutputSpecs,
> {
  /** `category/name`; equals the file path under nodes/ without `.ts`. */
  type: `${string}/${string}`;
  title: string;
  /** Shown as the editor tooltip and in the API docs. */
  description: string;
  inputs: I;
  outputs: O;
  /** TypeBox object schema: ajv validates it, the editor renders widgets from it. */
  params: P;
  /** Sinks: planning starts from these. Their `ui` result is reported to the caller. */
  output?: boolean;
  /** false: never cache this node's outputs (e.g. it reads a changing source). */
  cache?: false;
  /**
   * Extra text mixed into the cache key, for state outside params and inputs
   * (e.g. a local file's mtime, or a URL's content hash). Runs before every execution or cache
   * lookup, so keep it as cheap as correctness allows.
   */
  fingerprint?(params: Static<P>, ctx: ExecutionContext): string | Promise<string>;
  execute(inputs: InputValues<I>, params: Static<P>, ctx: ExecutionContext): Promise<ExecuteResult<O>>;
}

/** Any node definition, as the registry holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyNodeDefinition = NodeDefinition<TObject, InputSpecs, OutputSpecs> & { execute: (...args: any[]) => Promise<any> };

export function defineNode<P extends TObject, const I extends InputSpecs, const O extends OutputSpecs>(
  def: NodeDefinition<P, I, O>,
): NodeDefinition<P, I, O> {
  return def;
}
