// Client-side mirror of the server's catalogue and workflow shapes (server/engine/registry.ts,
// server/engine/workflow.ts). The client is built separately, so it keeps its own copy.

export interface PortTypeInfo {
  color: string;
  description: string;
}

/** A JSON Schema as TypeBox emits it for node params (only the keywords the editor reads). */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  format?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  title?: string;
  /** The value names something installed on the server ("models"): the editor offers those names. */
  'x-choices'?: string;
}

export interface CatalogueNode {
  type: string;
  category: string;
  title: string;
  description: string;
  output: boolean;
  inputs: Record<string, { type: string; optional?: boolean; description?: string }>;
  outputs: Record<string, { type: string; description?: string }>;
  params: JsonSchema;
}

export interface Catalogue {
  portTypes: Record<string, PortTypeInfo>;
  nodes: CatalogueNode[];
}

export type Link = [string, string];

export interface WorkflowNode {
  type: string;
  title?: string;
  params?: Record<string, unknown>;
  inputs?: Record<string, Link>;
}

export interface ParamTarget {
  node: string;
  param: string;
}

export interface PublicInput {
  node?: string;
  param?: string;
  targets?: ParamTarget[];
  description?: string;
}

export interface Workflow {
  $schema?: string;
  version: 1;
  name?: string;
  description?: string;
  inputs?: Record<string, PublicInput>;
  nodes: Record<string, WorkflowNode>;
  ui?: unknown;
}

/** One validation problem (server/engine/errors.ts). */
export interface Problem {
  nodeId?: string;
  path: string;
  code: string;
  message: string;
}

export interface RunErrorInfo {
  code: string;
  message: string;
  nodeId?: string;
  nodeType?: string;
  input?: string;
  param?: string;
  problems?: Problem[];
  details?: Record<string, unknown>;
}

export function catalogueIndex(cat: Catalogue): Map<string, CatalogueNode> {
  return new Map(cat.nodes.map((n) => [n.type, n]));
}
