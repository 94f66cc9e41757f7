// Whole-graph validation before anything is queued: every problem at once, each naming
// the node and the input or param, so the editor can mark all of them.
import type { Problem } from './errors.js';
import { createAjv, describeAjvError, type NodeRegistry } from './registry.js';
import { applyInputs, publicInputTargets, WorkflowSchema, type Workflow } from './workflow.js';

const checkWorkflowShape = createAjv().compile(WorkflowSchema);

export interface ValidateOptions {
  /** Values for the workflow's public inputs (checked by name, then as params). */
  inputs?: Record<string, unknown>;
  maxNodes?: number;
}

export interface ValidationResult {
  problems: Problem[];
  /** The workflow with public inputs applied and param defaults filled in (only when valid). */
  resolved?: Workflow;
}

export function validateWorkflow(raw: unknown, registry: NodeRegistry, opts: ValidateOptions = {}): ValidationResult {
  const shape = structuredClone(raw);
  if (!checkWorkflowShape(shape)) {
    return {
      problems: (checkWorkflowShape.errors ?? []).map((e) => {
        const { path, message } = describeAjvError(e);
        return { path: path || '(root)', code: 'invalid_workflow' as const, message };
      }),
    };
  }
  const base = shape as Workflow;
  const problems: Problem[] = [];
  const nodeIds = Object.keys(base.nodes);
  if (opts.maxNodes !== undefined && nodeIds.length > opts.maxNodes) {
    problems.push({ path: 'nodes', code: 'too_many_nodes', message: `workflow has ${nodeIds.length} nodes; the limit is ${opts.maxNodes}` });
  }

  // Public input declarations must point at real params.
  const paramOwner = new Map<string, string>(); // "node.param" -> public input name
  for (const [name, input] of Object.entries(base.inputs ?? {})) {
    const targets = publicInputTargets(input);
    if (targets.length === 0) {
      problems.push({ path: `inputs.${name}`, code: 'invalid_public_input', message: 'needs node and param, or targets' });
    }
    for (const t of targets) {
      paramOwner.set(`${t.node}.${t.param}`, name);
      const node = base.nodes[t.node];
      const def = node && registry.get(node.type);
      if (!node) problems.push({ path: `inputs.${name}`, code: 'invalid_public_input', message: `points at unknown node "${t.node}"` });
      else if (def && !(t.param in (def.params.properties ?? {}))) {
        problems.push({ nodeId: t.node, path: `inputs.${name}`, code: 'invalid_public_input', message: `node "${t.node}" (${node.type}) has no param "${t.param}"` });
      }
    }
  }
  for (const name of Object.keys(opts.inputs ?? {})) {
    if (!base.inputs?.[name]) {
      const known = Object.keys(base.inputs ?? {});
      problems.push({ path: `inputs.${name}`, code: 'unknown_public_input', message: `workflow has no public input "${name}"${known.length ? ` (it has: ${known.join(', ')})` : ''}` });
    }
  }

  const wf = applyInputs(base, opts.inputs);
  for (const [id, node] of Object.entries(wf.nodes)) {
    const def = registry.get(node.type);
    if (!def) {
      problems.push({ nodeId: id, path: `nodes.${id}.type`, code: 'unknown_node_type', message: `unknown node type "${node.type}"` });
      continue;
    }
    const params = { ...(node.params ?? {}) };
    for (const e of registry.validateParams(node.type, params)) {
      const { path, message } = describeAjvError(e);
      const param = path.split('.')[0] ?? '';
      const owner = paramOwner.get(`${id}.${param}`);
      problems.push({
        nodeId: id,
        path: owner && opts.inputs && owner in opts.inputs ? `inputs.${owner}` : `nodes.${id}.params${path ? `.${path}` : ''}`,
        code: 'invalid_param',
        message: `${path || 'params'} ${message}`,
      });
    }
    node.params = params;
    const links = node.inputs ?? {};
    for (const [inputName, [srcId, srcOutput]] of Object.entries(links)) {
      const spec = def.inputs[inputName];
      const path = `nodes.${id}.inputs.${inputName}`;
      if (!spec) {
        problems.push({ nodeId: id, path, code: 'unknown_input', message: `${node.type} has no input "${inputName}"` });
        continue;
      }
      const src = wf.nodes[srcId];
      if (!src) {
        problems.push({ nodeId: id, path, code: 'unknown_link_node', message: `input "${inputName}" links to unknown node "${srcId}"` });
        continue;
      }
      const srcDef = registry.get(src.type);
      if (!srcDef) continue; // reported on the source node
      const out = srcDef.outputs[srcOutput];
      if (!out) {
        problems.push({ nodeId: id, path, code: 'unknown_link_output', message: `node "${srcId}" (${src.type}) has no output "${srcOutput}"` });
      } else if (out.type !== spec.type) {
        problems.push({ nodeId: id, path, code: 'type_mismatch', message: `input "${inputName}" expects ${spec.type} but "${srcId}.${srcOutput}" gives ${out.type}` });
      }
    }
    for (const [inputName, spec] of Object.entries(def.inputs)) {
      if (!spec.optional && !links[inputName]) {
        problems.push({ nodeId: id, path: `nodes.${id}.inputs.${inputName}`, code: 'missing_input', message: `required input "${inputName}" (${spec.type}) is not linked` });
      }
    }
  }

  for (const cycle of findCycles(wf)) {
    problems.push({ nodeId: cycle[0], path: `nodes.${cycle[0]}`, code: 'cycle', message: `cycle: ${[...cycle, cycle[0]].join(' -> ')}` });
  }
  if (!Object.values(wf.nodes).some((n) => registry.get(n.type)?.output)) {
    problems.push({ path: 'nodes', code: 'no_output_nodes', message: 'workflow has no output node (e.g. image/save-image), so nothing would run' });
  }
  return problems.length ? { problems } : { problems, resolved: wf };
}

/** Each cycle once, as the list of node ids along it (links followed from consumer to producer). */
function findCycles(wf: Workflow): string[][] {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[][] = [];
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const [src] of Object.values(wf.nodes[id]?.inputs ?? {})) {
      if (!wf.nodes[src]) continue;
      const s = state.get(src);
      if (s === 'visiting') cycles.push(stack.slice(stack.indexOf(src)));
      else if (!s) visit(src);
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of Object.keys(wf.nodes)) if (!state.has(id)) visit(id);
  return cycles;
}
