// ComfyUI API-format prompt -> maskflow workflow. Validation follows ComfyUI's
// validate_prompt (class exists, outputs exist, required inputs, link slots and types,
// widget conversion, ranges and lists) and reports in its node_errors shape; then each
// reachable node is translated (classes.ts, or a maskflow node type used as a class) and
// the result is validated like any maskflow workflow, problems mapped back to comfy ids.
import type { Problem } from '../engine/errors.js';
import type { NodeRegistry } from '../engine/registry.js';
import { validateWorkflow } from '../engine/validate.js';
import type { Link, Workflow, WorkflowNode } from '../engine/workflow.js';
import { classDef } from './node-type-classes.js';
import {
  ComfyValidationError,
  isLinkValue,
  isWidget,
  NodeRefused,
  type ComfyClassDef,
  type ComfyEnv,
  type ComfyError,
  type ComfyNode,
  type ComfyNodeErrors,
  type ComfyPrompt,
  type InputDef,
  type NodeTranslator,
} from './spec.js';

export interface ComfyOutputSpec {
  /** The comfy node whose `executed` message reports this maskflow node's images. */
  node: string;
  kind: 'output' | 'temp';
  prefix: string;
}

export interface Translation {
  workflow: Workflow;
  /** maskflow node id -> comfy node id. */
  nodeMap: Record<string, string>;
  /** Output nodes (by maskflow id) whose images ComfyUI clients see. */
  outputs: Record<string, ComfyOutputSpec>;
  /** Comfy ids of the output nodes that run (ComfyUI's outputs_to_execute). */
  outputsToExecute: string[];
}

const promptError = (type: string, message: string, details = ''): ComfyValidationError =>
  new ComfyValidationError({ error: { type, message, details, extra_info: {} }, node_errors: {} });

/** Python's str() of a list, as ComfyUI prints it in value_not_in_list details. */
const pyList = (xs: readonly unknown[]) => `[${xs.map((x) => (typeof x === 'string' ? `'${x}'` : String(x))).join(', ')}]`;

/** Converts a widget value the way ComfyUI does (int(), float(), str()); undefined when it cannot. */
function convert(type: string, v: unknown): { ok: true; value: unknown } | { ok: false; why: string } {
  switch (type) {
    case 'INT': {
      const n = typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : NaN;
      return Number.isFinite(n) ? { ok: true, value: Math.trunc(n) } : { ok: false, why: `invalid literal for int(): ${JSON.stringify(v)}` };
    }
    case 'FLOAT': {
      const n = typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, why: `could not convert to float: ${JSON.stringify(v)}` };
    }
    case 'STRING':
      return v !== null && typeof v === 'object' ? { ok: false, why: 'expected text' } : { ok: true, value: String(v) };
    case 'BOOLEAN':
      if (typeof v === 'string' && /^(true|false)$/i.test(v)) return { ok: true, value: v.toLowerCase() === 'true' };
      return { ok: true, value: Boolean(v) };
    default:
      return { ok: true, value: v };
  }
}

interface Checked {
  ok: boolean;
  errors: ComfyError[];
  /** Converted widget values. */
  values: Record<string, unknown>;
}

class PromptTranslator {
  private readonly checked = new Map<string, Checked>();
  private readonly translated = new Map<string, Promise<Link[]>>();
  private readonly nodes: Workflow['nodes'] = {};
  private readonly nodeMap: Record<string, string> = {};
  private readonly outputs: Record<string, ComfyOutputSpec> = {};
  private readonly refusals = new Map<string, ComfyError[]>();
  /** Nodes without a translation (partial imports): id -> reason. */
  readonly unknown = new Map<string, string>();

  constructor(
    private readonly prompt: ComfyPrompt,
    private readonly registry: NodeRegistry,
    private readonly env: ComfyEnv,
  ) {}

  private def(id: string): ComfyClassDef {
    return classDef(this.prompt[id]!.class_type, this.registry)!;
  }

  /** ComfyUI's validate_inputs: this node's own errors; ok=false also when an upstream node is invalid. */
  check(id: string, stack = new Set<string>()): Checked {
    const done = this.checked.get(id);
    if (done) return done;
    const result: Checked = { ok: true, errors: [], values: {} };
    if (stack.has(id)) {
      result.ok = false;
      result.errors.push({ type: 'dependency_cycle_detected', message: 'Dependency cycle detected', details: id, extra_info: { node_id: id } });
      return result;
    }
    stack.add(id);
    const node = this.prompt[id]!;
    const def = this.def(id);
    const inputs = node.inputs ?? {};
    const specs: Array<[string, InputDef, boolean]> = [
      ...Object.entries(def.required).map(([n, s]) => [n, s, true] as [string, InputDef, boolean]),
      ...Object.entries(def.optional ?? {}).map(([n, s]) => [n, s, false] as [string, InputDef, boolean]),
    ];
    const err = (type: string, message: string, details: string, extra: Record<string, unknown>) => {
      result.errors.push({ type, message, details, extra_info: extra });
    };
    for (const [name, spec, required] of specs) {
      const info = [spec.type === 'COMBO' ? [...(spec.options?.(this.env) ?? [])] : spec.type, spec.config ?? {}];
      if (!(name in inputs) || inputs[name] === null) {
        if (required) err('required_input_missing', 'Required input is missing', name, { input_name: name });
        else if (spec.config?.default !== undefined && isWidget(spec)) result.values[name] = spec.config.default;
        continue;
      }
      const val = inputs[name];
      if (isLinkValue(val) && !(spec.type === 'JSON' && !spec.port)) {
        const srcId = String(val[0]);
        const src = this.prompt[srcId];
        if (this.unknown.has(srcId)) {
          result.ok = false;
          err('untranslatable_input', 'Input comes from a node maskflow cannot translate', `${name}: node '${srcId}' (${src?.class_type ?? '?'})`, { input_name: name, linked_node: val });
          continue;
        }
        if (!src) {
          err('bad_linked_input', 'Bad linked input, the linked node does not exist', `${name}: node '${srcId}'`, { input_name: name, input_config: info, linked_node: val });
          continue;
        }
        if (isWidget(spec)) {
          err('widget_link_unsupported', 'Linked widget inputs are not supported by maskflow', `${name}: give a literal value`, { input_name: name, linked_node: val });
          continue;
        }
        const received = this.def(srcId).outputs[val[1]]?.[0];
        if (received === undefined) {
          err('bad_linked_input', 'Bad linked input, the output slot does not exist', `${name}: slot ${val[1]} of node '${srcId}'`, { input_name: name, input_config: info, linked_node: val });
          continue;
        }
        if (received !== spec.type && received !== '*' && spec.type !== '*') {
          err('return_type_mismatch', 'Return type mismatch between linked nodes', `${name}, received_type(${received}) mismatch input_type(${spec.type})`, {
            input_name: name,
            input_config: info,
            received_type: received,
            linked_node: val,
          });
          continue;
        }
        if (!this.check(srcId, stack).ok) result.ok = false;
        continue;
      }
      if (!isWidget(spec)) {
        err('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', name, { input_name: name, input_config: info, received_value: val });
        continue;
      }
      const conv = convert(spec.type, val);
      if (!conv.ok) {
        err('invalid_input_type', `Failed to convert an input value to a ${spec.type} value`, `${name}, ${String(val)}, ${conv.why}`, {
          input_name: name,
          input_config: info,
          received_value: val,
          exception_message: conv.why,
        });
        continue;
      }
      const v = conv.value;
      const cfg = spec.config ?? {};
      if (typeof v === 'number' && typeof cfg.min === 'number' && v < cfg.min) {
        err('value_smaller_than_min', `Value ${v} smaller than min of ${cfg.min}`, name, { input_name: name, input_config: info, received_value: v });
        continue;
      }
      if (typeof v === 'number' && typeof cfg.max === 'number' && v > cfg.max) {
        err('value_bigger_than_max', `Value ${v} bigger than max of ${cfg.max}`, name, { input_name: name, input_config: info, received_value: v });
        continue;
      }
      if (spec.type === 'COMBO') {
        const options = spec.options?.(this.env) ?? [];
        if (!options.includes(v as string)) {
          const long = options.length > 20;
          err('value_not_in_list', 'Value not in list', `${name}: '${String(v)}' not in ${long ? `(list of length ${options.length})` : pyList(options)}`, {
            input_name: name,
            input_config: long ? null : info,
            received_value: v,
          });
          continue;
        }
      }
      result.values[name] = v;
    }
    stack.delete(id);
    if (result.errors.length) result.ok = false;
    this.checked.set(id, result);
    return result;
  }

  /** Node errors of every checked node with errors of its own, each listing the outputs depending on it. */
  nodeErrors(outputs: string[]): Record<string, ComfyNodeErrors> {
    const out: Record<string, ComfyNodeErrors> = {};
    const add = (id: string, errors: ComfyError[], output: string) => {
      const e = (out[id] ??= { errors, dependent_outputs: [], class_type: this.prompt[id]!.class_type });
      if (!e.dependent_outputs.includes(output)) e.dependent_outputs.push(output);
    };
    for (const o of outputs) {
      for (const id of this.upstreamOf(o)) {
        const c = this.checked.get(id);
        if (c && c.errors.length) add(id, c.errors, o);
        const r = this.refusals.get(id);
        if (r) add(id, r, o);
      }
    }
    return out;
  }

  private upstreamOf(id: string, seen = new Set<string>()): Set<string> {
    if (seen.has(id) || !this.prompt[id]) return seen;
    seen.add(id);
    for (const v of Object.values(this.prompt[id]!.inputs ?? {})) if (isLinkValue(v)) this.upstreamOf(String(v[0]), seen);
    return seen;
  }

  private uniqueId(comfyId: string, suffix: string | undefined): string {
    const base = comfyId.replace(/[^A-Za-z0-9_.-]/g, '_') || 'n';
    let id = suffix === undefined ? base : `${base}.${suffix}`;
    for (let i = 2; Object.hasOwn(this.nodes, id); i++) id = `${base}.${suffix ?? 'n'}${i}`;
    return id;
  }

  translate(id: string): Promise<Link[]> {
    let p = this.translated.get(id);
    if (!p) {
      p = this.translateNow(id);
      this.translated.set(id, p);
    }
    return p;
  }

  private async translateNow(id: string): Promise<Link[]> {
    const node = this.prompt[id]!;
    const def = this.def(id);
    const values = this.check(id).values;
    const self = this;
    const t: NodeTranslator = {
      id,
      classType: node.class_type,
      env: this.env,
      value<T>(name: string): T {
        return values[name] as T;
      },
      async link(name): Promise<Link> {
        const l = await this.optionalLink(name);
        if (!l) return this.fail('required_input_missing', 'Required input is missing', name, { input_name: name });
        return l;
      },
      async optionalLink(name) {
        const v = node.inputs?.[name];
        if (!isLinkValue(v)) return undefined;
        const outs = await self.translate(String(v[0]));
        return outs[v[1]];
      },
      sourceOf(name) {
        const v = node.inputs?.[name];
        if (!isLinkValue(v)) return undefined;
        const src = self.prompt[String(v[0])];
        return src && { id: String(v[0]), node: src, slot: v[1] };
      },
      node: (comfyId) => self.prompt[comfyId],
      outputsOf: (comfyId) => self.translate(comfyId),
      add(type, params = {}, inputs = {}, suffix) {
        const mfId = self.uniqueId(id, suffix ?? (Object.values(self.nodeMap).includes(id) ? type.split('/')[1] : undefined));
        const n: WorkflowNode = { type, params, ...(Object.keys(inputs).length ? { inputs } : {}) };
        if (node._meta?.title) n.title = node._meta.title;
        self.nodes[mfId] = n;
        self.nodeMap[mfId] = id;
        return mfId;
      },
      markOutput(mfId, kind, prefix) {
        self.outputs[mfId] = { node: id, kind, prefix };
      },
      fail(type, message, details, extra = {}) {
        throw new NodeRefused({ type, message, details, extra_info: extra });
      },
    };
    try {
      return await def.translate(t);
    } catch (err) {
      if (!(err instanceof NodeRefused)) throw err;
      if (!this.refusals.has(id)) this.refusals.set(id, [err.error]);
      throw new UpstreamRefused();
    }
  }

  /** Why a node was not translated (its own errors, a refusal, or an upstream node's failure). */
  reasonFor(id: string): string | undefined {
    const unknown = this.unknown.get(id);
    if (unknown) return unknown;
    const own = [...(this.checked.get(id)?.errors ?? []), ...(this.refusals.get(id) ?? [])];
    if (own.length) return own.map((e) => `${e.message}: ${e.details}`).join('; ');
    return undefined;
  }

  result(outputsToExecute: string[]): Translation {
    return { workflow: { version: 1, nodes: this.nodes }, nodeMap: this.nodeMap, outputs: this.outputs, outputsToExecute };
  }
}

/** A node failed translation; its error is recorded on the node that refused. */
class UpstreamRefused extends Error {}

function failedValidation(translator: PromptTranslator, outputs: string[]): ComfyValidationError {
  const nodeErrors = translator.nodeErrors(outputs);
  const lines = Object.values(nodeErrors).flatMap((n) => n.errors.map((e) => `${e.message}: ${e.details}`));
  return new ComfyValidationError({
    error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: lines.join('\n'), extra_info: {} },
    node_errors: nodeErrors,
  });
}

export interface TranslateOptions {
  maxNodes?: number;
  /** The server's limits on any workflow (sizes, steps), checked on the resolved workflow. */
  limits?: (resolved: Workflow) => Problem[];
}

/** Validates and translates a prompt; throws ComfyValidationError with ComfyUI's 400 body. */
export async function translatePrompt(raw: unknown, registry: NodeRegistry, env: ComfyEnv, opts: TranslateOptions = {}): Promise<Translation> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw promptError('invalid_prompt', 'prompt must be an object of nodes keyed by id', `got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
  const prompt = raw as ComfyPrompt;
  const ids = Object.keys(prompt);
  if (opts.maxNodes !== undefined && ids.length > opts.maxNodes) {
    throw promptError('invalid_prompt', `Prompt has ${ids.length} nodes; this server accepts at most ${opts.maxNodes}`);
  }
  const outputs: string[] = [];
  for (const id of ids) {
    const node = prompt[id] as ComfyNode | null;
    if (!node || typeof node !== 'object' || typeof node.class_type !== 'string') {
      throw promptError('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`);
    }
    if (node.inputs !== undefined && (typeof node.inputs !== 'object' || node.inputs === null || Array.isArray(node.inputs))) {
      throw promptError('invalid_prompt', 'Node inputs must be an object.', `Node ID '#${id}'`);
    }
    const def = classDef(node.class_type, registry);
    if (!def) throw promptError('invalid_prompt', `Cannot execute because node ${node.class_type} does not exist.`, `Node ID '#${id}'`);
    if (def.outputNode) outputs.push(id);
  }
  if (!outputs.length) throw promptError('prompt_no_outputs', 'Prompt has no outputs');

  const translator = new PromptTranslator(prompt, registry, env);
  const valid = outputs.map((o) => translator.check(o).ok);
  if (valid.includes(false)) throw failedValidation(translator, outputs);

  let refused = false;
  for (const o of outputs) {
    try {
      await translator.translate(o);
    } catch (err) {
      if (!(err instanceof UpstreamRefused)) throw err;
      refused = true;
    }
  }
  if (refused) throw failedValidation(translator, outputs);

  const result = translator.result(outputs);
  const { problems, resolved } = validateWorkflow(result.workflow, registry, { maxNodes: opts.maxNodes });
  if (resolved && opts.limits) problems.push(...opts.limits(resolved));
  if (problems.length) {
    const nodeErrors: Record<string, ComfyNodeErrors> = {};
    for (const p of problems) {
      const comfyId = p.nodeId ? result.nodeMap[p.nodeId] : undefined;
      const key = comfyId ?? ids[0]!;
      const e = (nodeErrors[key] ??= { errors: [], dependent_outputs: [...outputs], class_type: prompt[key]!.class_type });
      const [, , kind, name] = p.path.split('.');
      e.errors.push({
        type: p.code,
        message: p.message,
        details: `${name ?? p.path} (maskflow ${p.nodeId ? `${prompt[key]!.class_type} -> ${result.workflow.nodes[p.nodeId]?.type}` : 'workflow'}: ${p.path})`,
        extra_info: { ...(name ? { input_name: name } : {}), ...(kind ? { maskflow_kind: kind } : {}), maskflow_path: p.path },
      });
    }
    const lines = Object.values(nodeErrors).flatMap((n) => n.errors.map((e) => `${e.message}: ${e.details}`));
    throw new ComfyValidationError({
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: lines.join('\n'), extra_info: {} },
      node_errors: nodeErrors,
    });
  }
  return result;
}

export interface Untranslated {
  id: string;
  class_type: string;
  reason: string;
}

/**
 * Best-effort translation for importing workflow files: every node that can be translated is,
 * the others are listed with the reason (a node fed by one of them fails too). The workflow
 * is not validated here; its maskflow node ids are the comfy ids (plus .suffix for helpers).
 */
export async function translatePartial(raw: ComfyPrompt, registry: NodeRegistry, env: ComfyEnv): Promise<{ translation: Translation; untranslated: Untranslated[] }> {
  const translator = new PromptTranslator(raw, registry, env);
  const ids = Object.keys(raw);
  for (const id of ids) {
    const node = raw[id];
    if (!node || typeof node.class_type !== 'string') translator.unknown.set(id, 'node has no class_type');
    else if (!classDef(node.class_type, registry)) translator.unknown.set(id, `ComfyUI class ${node.class_type} has no maskflow translation`);
  }
  const outputs: string[] = [];
  const succeeded = new Set<string>();
  for (const id of ids) {
    if (translator.unknown.has(id)) continue;
    if (!translator.check(id).ok) continue;
    try {
      await translator.translate(id);
      succeeded.add(id);
      if (classDef(raw[id]!.class_type, registry)!.outputNode) outputs.push(id);
    } catch (err) {
      if (!(err instanceof UpstreamRefused)) throw err;
    }
  }
  const untranslated: Untranslated[] = [];
  for (const id of ids) {
    if (succeeded.has(id)) continue;
    const reason = translator.reasonFor(id) ?? 'an input comes from a node that could not be translated';
    untranslated.push({ id, class_type: String(raw[id]?.class_type ?? '?'), reason });
  }
  return { translation: translator.result(outputs), untranslated };
}
