// GET /object_info: ComfyUI's node_info() shape for its core classes maskflow translates and
// for maskflow's own node types (usable as class_type too).
import type { NodeRegistry } from '../engine/registry.js';
import { COMFY_CLASSES } from './classes.js';
import type { ComfyClassDef, ComfyEnv, InputDef } from './spec.js';
import { classForNodeType } from './node-type-classes.js';

export interface ObjectInfo {
  input: { required: Record<string, unknown[]>; optional?: Record<string, unknown[]> };
  input_order: { required: string[]; optional?: string[] };
  output: string[];
  output_is_list: boolean[];
  output_name: string[];
  name: string;
  display_name: string;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
}

function inputTuple(spec: InputDef, env: ComfyEnv): unknown[] {
  const cfg = spec.config && Object.keys(spec.config).length ? [spec.config] : [];
  if (spec.type === 'COMBO') return [[...(spec.options?.(env) ?? [])], ...cfg];
  return [spec.type, ...cfg];
}

export function nodeInfo(name: string, def: ComfyClassDef, env: ComfyEnv, module: string): ObjectInfo {
  const tuples = (specs: Record<string, InputDef>) => Object.fromEntries(Object.entries(specs).map(([n, s]) => [n, inputTuple(s, env)]));
  const optional = def.optional && Object.keys(def.optional).length ? def.optional : undefined;
  return {
    input: { required: tuples(def.required), ...(optional ? { optional: tuples(optional) } : {}) },
    input_order: { required: Object.keys(def.required), ...(optional ? { optional: Object.keys(optional) } : {}) },
    output: def.outputs.map((o) => o[0]),
    output_is_list: def.outputs.map(() => false),
    output_name: def.outputs.map((o) => o[1]),
    name,
    display_name: def.display,
    description: def.description,
    python_module: module,
    category: def.category,
    output_node: def.outputNode === true,
  };
}

export function objectInfo(registry: NodeRegistry, env: ComfyEnv): Record<string, ObjectInfo> {
  const out: Record<string, ObjectInfo> = {};
  for (const [name, def] of Object.entries(COMFY_CLASSES)) out[name] = nodeInfo(name, def, env, 'nodes');
  for (const type of registry.types()) out[type] = nodeInfo(type, classForNodeType(registry.get(type)!), env, 'maskflow');
  return out;
}

/** One class, or {} when unknown (as ComfyUI answers; some clients wait on that). */
export function objectInfoOf(name: string, registry: NodeRegistry, env: ComfyEnv): Record<string, ObjectInfo> {
  if (Object.hasOwn(COMFY_CLASSES, name)) return { [name]: nodeInfo(name, COMFY_CLASSES[name]!, env, 'nodes') };
  const def = registry.get(name);
  return def ? { [name]: nodeInfo(name, classForNodeType(def), env, 'maskflow') } : {};
}
