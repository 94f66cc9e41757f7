// The one workflow format, owned by the server. The editor converts to and from it.
import { Type, type Static } from '@sinclair/typebox';

export const LinkSchema = Type.Tuple([Type.String({ minLength: 1 }), Type.String({ minLength: 1 })], {
  description: '[sourceNodeId, sourceOutputName]',
});

export const WorkflowNodeSchema = Type.Object(
  {
    type: Type.String({ pattern: '^[a-z0-9-]+/[a-z0-9-]+$', description: 'Node type id, e.g. image/load-image' }),
    title: Type.Optional(Type.String()),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    inputs: Type.Optional(Type.Record(Type.String(), LinkSchema)),
  },
  { additionalProperties: false },
);

export const ParamTargetSchema = Type.Object(
  { node: Type.String({ minLength: 1 }), param: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

/** A public input sets one node param, or several (`targets`) to the same value. */
export const PublicInputSchema = Type.Object(
  {
    node: Type.Optional(Type.String({ minLength: 1 })),
    param: Type.Optional(Type.String({ minLength: 1 })),
    targets: Type.Optional(Type.Array(ParamTargetSchema, { minItems: 1 })),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const WorkflowSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    version: Type.Literal(1),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    inputs: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), PublicInputSchema)),
    nodes: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }), WorkflowNodeSchema),
    /** Editor layout and anything else the UI keeps; the engine ignores it. */
    ui: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false, $id: 'https://maskflow.dev/schemas/workflow.json', title: 'maskflow workflow' },
);

export type Link = Static<typeof LinkSchema>;
export type WorkflowNode = Static<typeof WorkflowNodeSchema>;
export type PublicInput = Static<typeof PublicInputSchema>;
export type Workflow = Static<typeof WorkflowSchema>;
export type ParamTarget = Static<typeof ParamTargetSchema>;

/** The node params a public input writes to. */
export function publicInputTargets(input: PublicInput): ParamTarget[] {
  const targets = [...(input.targets ?? [])];
  if (input.node !== undefined && input.param !== undefined) targets.unshift({ node: input.node, param: input.param });
  return targets;
}

/**
 * Returns a copy of the workflow with public input values written into node params.
 * Unknown names are reported by validateInputs(); here they are ignored.
 */
export function applyInputs(workflow: Workflow, values: Record<string, unknown> = {}): Workflow {
  const copy: Workflow = structuredClone(workflow);
  for (const [name, value] of Object.entries(values)) {
    const input = copy.inputs?.[name];
    if (!input || value === undefined) continue;
    for (const t of publicInputTargets(input)) {
      const node = copy.nodes[t.node];
      if (!node) continue;
      node.params = { ...(node.params ?? {}), [t.param]: structuredClone(value) };
    }
  }
  return copy;
}
