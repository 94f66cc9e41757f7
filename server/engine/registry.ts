// Node registry: holds definitions, compiles their param schemas once, and describes
// them as a catalogue (JSON Schemas) for the editor and API clients.
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import { createRequire } from 'node:module';
import type { AnyNodeDefinition, InputSpecs, OutputSpecs } from './node.js';
import { isPortType, PORT_TYPES, type PortTypeInfo } from './ports.js';

// ajv-formats is CommonJS whose typings declare an ES default export; require() gives the callable.
const addFormats = createRequire(import.meta.url)('ajv-formats') as typeof import('ajv-formats').default;

export function createAjv(): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true, useDefaults: true, coerceTypes: false });
  addFormats(ajv);
  // Annotation for editors: the value names an installed model ("models"); the editor offers those names.
  ajv.addKeyword({ keyword: 'x-choices', schemaType: 'string' });
  return ajv;
}

export interface CatalogueEntry {
  type: string;
  category: string;
  title: string;
  description: string;
  output: boolean;
  inputs: InputSpecs;
  outputs: OutputSpecs;
  params: unknown;
}

export interface Catalogue {
  portTypes: Record<string, PortTypeInfo>;
  nodes: CatalogueEntry[];
}

export class NodeRegistry {
  private readonly defs = new Map<string, AnyNodeDefinition>();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly ajv = createAjv();

  register(def: AnyNodeDefinition): void {
    if (this.defs.has(def.type)) throw new Error(`node type ${def.type} is registered twice`);
    for (const [name, spec] of [...Object.entries(def.inputs), ...Object.entries(def.outputs)]) {
      if (!isPortType(spec.type)) throw new Error(`node ${def.type}: port ${name} has unknown type ${spec.type}`);
    }
    this.validators.set(def.type, this.ajv.compile(def.params));
    this.defs.set(def.type, def);
  }

  get(type: string): AnyNodeDefinition | undefined {
    return this.defs.get(type);
  }

  has(type: string): boolean {
    return this.defs.has(type);
  }

  types(): string[] {
    return [...this.defs.keys()].sort();
  }

  /**
   * Validates params (mutating: ajv fills defaults) and returns the errors, if any.
   * The caller passes a copy it owns.
   */
  validateParams(type: string, params: Record<string, unknown>): ErrorObject[] {
    const validate = this.validators.get(type);
    if (!validate) throw new Error(`unknown node type ${type}`);
    return validate(params) ? [] : [...(validate.errors ?? [])];
  }

  catalogue(): Catalogue {
    return {
      portTypes: PORT_TYPES,
      nodes: this.types().map((type) => {
        const d = this.defs.get(type)!;
        return {
          type,
          category: type.split('/')[0]!,
          title: d.title,
          description: d.description,
          output: d.output === true,
          inputs: d.inputs,
          outputs: d.outputs,
          // JSON round trip drops TypeBox's symbol keys.
          params: JSON.parse(JSON.stringify(d.params)),
        };
      }),
    };
  }
}

/** Formats an ajv error as `path: message`, naming the param. */
export function describeAjvError(e: ErrorObject): { path: string; message: string } {
  let path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required') path = path ? `${path}.${e.params.missingProperty}` : String(e.params.missingProperty);
  if (e.keyword === 'additionalProperties') {
    const extra = String(e.params.additionalProperty);
    return { path: path ? `${path}.${extra}` : extra, message: `unknown property "${extra}"` };
  }
  if (e.keyword === 'enum') return { path, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
  return { path, message: e.message ?? 'is invalid' };
}
