// maskflow node types offered as ComfyUI classes (their ports are links, their params widgets),
// and the lookup of a class_type: ComfyUI's own classes first (classes.ts), then node types.
import type { AnyNodeDefinition } from '../engine/node.js';
import type { NodeRegistry } from '../engine/registry.js';
import type { Link } from '../engine/workflow.js';
import { COMFY_CLASSES } from './classes.js';
import type { ComfyClassDef, InputDef } from './spec.js';

/** maskflow port type -> ComfyUI type name (ComfyUI calls the UNet MODEL). */
export const comfyTypeOfPort = (t: string): string => (t === 'UNET' ? 'MODEL' : t);

/** A maskflow node type offered as a ComfyUI class (its ports are links, its params widgets). */
export function classForNodeType(def: AnyNodeDefinition): ComfyClassDef {
  const required: Record<string, InputDef> = {};
  const optional: Record<string, InputDef> = {};
  for (const [name, spec] of Object.entries(def.inputs)) (spec.optional ? optional : required)[name] = { type: comfyTypeOfPort(spec.type), port: true };
  const props = ((def.params as { properties?: Record<string, Record<string, unknown>> }).properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, schema] of Object.entries(props)) optional[name] = widgetOfSchema(schema);
  const outputNames = Object.keys(def.outputs);
  return {
    display: def.title,
    category: `maskflow/${def.type.split('/')[0]}`,
    description: def.description,
    required,
    optional,
    outputs: outputNames.map((n) => [comfyTypeOfPort(def.outputs[n]!.type), n]),
    outputNode: def.output === true,
    async translate(t) {
      const params: Record<string, unknown> = {};
      const inputs: Record<string, Link> = {};
      for (const name of Object.keys(props)) {
        const v = t.value(name);
        if (v !== undefined) params[name] = v;
      }
      for (const [name, spec] of Object.entries(def.inputs)) {
        const l = spec.optional ? await t.optionalLink(name) : await t.link(name);
        if (l) inputs[name] = l;
      }
      const id = t.add(def.type, params, inputs);
      if (def.output) t.markOutput(id, 'output', 'maskflow');
      return outputNames.map((n) => [id, n] as Link);
    },
  };
}

function widgetOfSchema(s: Record<string, unknown>): InputDef {
  const base: Record<string, unknown> = {};
  if (s.default !== undefined) base.default = s.default;
  if (typeof s.description === 'string') base.tooltip = s.description;
  const choices = Array.isArray(s.enum)
    ? (s.enum as unknown[])
    : Array.isArray(s.anyOf) && (s.anyOf as Array<Record<string, unknown>>).every((x) => 'const' in x)
      ? (s.anyOf as Array<Record<string, unknown>>).map((x) => x.const)
      : undefined;
  if (choices && choices.every((c) => typeof c === 'string')) return { type: 'COMBO', options: () => choices as string[], config: base };
  const range = { ...(typeof s.minimum === 'number' ? { min: s.minimum } : {}), ...(typeof s.maximum === 'number' ? { max: s.maximum } : {}) };
  switch (s.type) {
    case 'integer':
      return { type: 'INT', config: { ...base, ...range, step: 1 } };
    case 'number':
      return { type: 'FLOAT', config: { ...base, ...range, step: 0.01 } };
    case 'boolean':
      return { type: 'BOOLEAN', config: base };
    case 'string':
      return { type: 'STRING', config: { ...base, multiline: false } };
    default:
      return { type: 'JSON', config: base };
  }
}

/** The class behind a prompt's class_type, if maskflow has one. */
export function classDef(classType: string, registry: NodeRegistry): ComfyClassDef | undefined {
  if (Object.hasOwn(COMFY_CLASSES, classType)) return COMFY_CLASSES[classType];
  const def = registry.get(classType);
  return def ? classForNodeType(def) : undefined;
}
