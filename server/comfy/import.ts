// Opening ComfyUI workflow files as maskflow workflows: UI-format JSON (nodes + links, as
// its editor saves), API-format JSON (a prompt), or a PNG carrying them in its "prompt" /
// "workflow" text chunks. UI graphs are turned into a prompt the way ComfyUI's frontend does
// (widgets_values in input order, seed control values skipped, reroutes followed, muted
// nodes dropped, bypassed nodes passed through), then translated as far as possible.
import type { NodeRegistry } from '../engine/registry.js';
import type { Workflow } from '../engine/workflow.js';
import { isPng, readPngText } from '../image/png-metadata.js';
import { isWidget, type ComfyEnv, type ComfyPrompt } from './spec.js';
import { classDef } from './node-type-classes.js';
import { translatePartial, type Untranslated } from './translate.js';

interface UiNode {
  id: number | string;
  type: string;
  pos?: [number, number] | { 0: number; 1: number };
  mode?: number;
  title?: string;
  inputs?: Array<{ name: string; type?: string; link?: number | null; widget?: { name: string } }>;
  outputs?: Array<{ name?: string; type?: string }>;
  widgets_values?: unknown[] | Record<string, unknown>;
}

interface UiWorkflow {
  nodes: UiNode[];
  links: Array<[number, number | string, number, number | string, number, string] | { id: number; origin_id: number | string; origin_slot: number; target_id: number | string; target_slot: number; type?: string }>;
}

export type ComfyFileFormat = 'ui' | 'api' | 'png-prompt' | 'png-workflow';

export interface ComfyImport {
  format: ComfyFileFormat;
  workflow: Workflow;
  untranslated: Untranslated[];
  /** maskflow node id -> comfy node id. */
  nodeMap: Record<string, string>;
}

const MODE_MUTED = 2;
const MODE_BYPASS = 4;
const SEED_CONTROLS = new Set(['fixed', 'increment', 'decrement', 'randomize']);
/** Frontend-only nodes: no class, nothing to run. */
const UI_ONLY = new Set(['Note', 'MarkdownNote', 'PrimitiveNode', 'Reroute']);

export function isUiWorkflow(v: unknown): v is UiWorkflow {
  return !!v && typeof v === 'object' && Array.isArray((v as UiWorkflow).nodes) && Array.isArray((v as UiWorkflow).links);
}

export function isApiPrompt(v: unknown): v is ComfyPrompt {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const values = Object.values(v as object);
  return values.length > 0 && values.every((n) => n && typeof n === 'object' && typeof (n as { class_type?: unknown }).class_type === 'string');
}

/** The ComfyUI document in a file: a PNG's chunks (prompt preferred: it is exact) or JSON. */
export function readComfyFile(bytes: Uint8Array): { format: ComfyFileFormat; doc: ComfyPrompt | UiWorkflow; ui?: UiWorkflow } | undefined {
  const parse = (text: string | undefined): unknown => {
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  };
  if (isPng(bytes)) {
    const text = readPngText(bytes);
    const prompt = parse(text.prompt);
    const ui = parse(text.workflow);
    if (isApiPrompt(prompt)) return { format: 'png-prompt', doc: prompt, ...(isUiWorkflow(ui) ? { ui } : {}) };
    if (isUiWorkflow(ui)) return { format: 'png-workflow', doc: ui, ui };
    return undefined;
  }
  const doc = parse(new TextDecoder().decode(bytes));
  const inner = doc && typeof doc === 'object' && 'prompt' in doc ? (doc as { prompt: unknown }).prompt : undefined; // a saved POST /prompt body
  if (isUiWorkflow(doc)) return { format: 'ui', doc, ui: doc };
  if (isApiPrompt(doc)) return { format: 'api', doc };
  if (isApiPrompt(inner)) return { format: 'api', doc: inner };
  return undefined;
}

const posOf = (n: UiNode): [number, number] | undefined => {
  const p = n.pos as unknown;
  if (Array.isArray(p)) return [Number(p[0]), Number(p[1])];
  if (p && typeof p === 'object') return [Number((p as Record<string, number>)[0]), Number((p as Record<string, number>)[1])];
  return undefined;
};

/** A UI graph as an API prompt (what ComfyUI's frontend sends), plus the nodes it dropped. */
export function uiToPrompt(ui: UiWorkflow, registry: NodeRegistry): ComfyPrompt {
  const byId = new Map(ui.nodes.map((n) => [String(n.id), n]));
  const links = new Map<number, { from: string; slot: number }>();
  for (const l of ui.links) {
    if (Array.isArray(l)) links.set(l[0], { from: String(l[1]), slot: l[2] });
    else if (l && typeof l === 'object') links.set(l.id, { from: String(l.origin_id), slot: l.origin_slot });
  }
  /** Follows reroutes and bypassed nodes to the real source; undefined for primitives, muted or missing nodes. */
  const source = (linkId: number | null | undefined, seen = new Set<number>()): [string, number] | undefined => {
    if (linkId === null || linkId === undefined || seen.has(linkId)) return undefined;
    seen.add(linkId);
    const l = links.get(linkId);
    const n = l && byId.get(l.from);
    if (!l || !n || n.mode === MODE_MUTED || n.type === 'PrimitiveNode') return undefined;
    if (n.type === 'Reroute') return source(n.inputs?.[0]?.link, seen);
    if (n.mode === MODE_BYPASS) {
      const type = n.outputs?.[l.slot]?.type;
      const through = n.inputs?.find((i) => i.type === type && i.link !== null && i.link !== undefined);
      return through ? source(through.link, seen) : undefined;
    }
    return [l.from, l.slot];
  };
  const prompt: ComfyPrompt = {};
  for (const n of ui.nodes) {
    const id = String(n.id);
    if (UI_ONLY.has(n.type) || n.mode === MODE_MUTED || n.mode === MODE_BYPASS) continue;
    const def = classDef(n.type, registry);
    const inputs: Record<string, unknown> = {};
    const linkOf = (name: string) => n.inputs?.find((i) => i.name === name || i.widget?.name === name)?.link;
    if (def) {
      const values = n.widgets_values;
      let k = 0;
      for (const [name, spec] of [...Object.entries(def.required), ...Object.entries(def.optional ?? {})]) {
        const linked = source(linkOf(name));
        if (isWidget(spec)) {
          const v = Array.isArray(values) ? values[k++] : values?.[name];
          if (spec.config?.control_after_generate && Array.isArray(values) && typeof values[k] === 'string' && SEED_CONTROLS.has(values[k] as string)) k++;
          if (linked) inputs[name] = linked;
          else if (v !== undefined) inputs[name] = v;
        } else if (linked) inputs[name] = linked;
      }
    } else {
      for (const i of n.inputs ?? []) {
        const linked = source(i.link);
        if (linked) inputs[i.name] = linked;
      }
    }
    prompt[id] = { class_type: n.type, inputs, ...(n.title ? { _meta: { title: n.title } } : {}) };
  }
  return prompt;
}

/** What an offline import accepts as names: whatever the file refers to (the server checks when it runs). */
function permissiveEnv(prompt: ComfyPrompt): ComfyEnv {
  const values = (input: string) => [
    ...new Set(
      Object.values(prompt)
        .map((n) => n.inputs?.[input])
        .filter((v): v is string => typeof v === 'string'),
    ),
  ];
  return {
    checkpoints: () => values('ckpt_name'),
    loras: () => values('lora_name'),
    controlnets: () => values('control_net_name'),
    inputImages: () => values('image'),
    importInput: async (name) => name,
  };
}

/** Converts a ComfyUI file; untranslatable nodes are listed, never silently dropped. */
export async function importComfy(bytes: Uint8Array, registry: NodeRegistry, name = 'comfyui-import'): Promise<ComfyImport | undefined> {
  const file = readComfyFile(bytes);
  if (!file) return undefined;
  const prompt = isUiWorkflow(file.doc) ? uiToPrompt(file.doc, registry) : file.doc;
  const { translation, untranslated } = await translatePartial(prompt, registry, permissiveEnv(prompt));
  const description = `Imported from a ComfyUI ${file.format === 'api' || file.format === 'png-prompt' ? 'API prompt' : 'workflow'}${untranslated.length ? `; ${untranslated.length} node(s) could not be translated` : ''}.`;
  const nodes = translation.workflow.nodes;
  // Every image the graph loads becomes a public input, so `maskflow run --input image_<id>=@file` can supply it.
  const inputs: NonNullable<Workflow['inputs']> = {};
  for (const [mfId, node] of Object.entries(nodes)) {
    if (node.type !== 'image/load-image') continue;
    const comfyId = translation.nodeMap[mfId]!;
    const key = `image_${comfyId.replace(/[^A-Za-z0-9_]/g, '_')}`;
    if (!inputs[key]) inputs[key] = { node: mfId, param: 'url', description: `ComfyUI ${prompt[comfyId]?.class_type} "${String(node.params?.url ?? '')}"` };
  }
  const wf: Workflow = { version: 1, name, description, ...(Object.keys(inputs).length ? { inputs } : {}), nodes };
  // Layout: the UI positions (helper nodes of one comfy node stacked under it); untranslated nodes for the editor to mark.
  const positions = new Map<string, [number, number]>();
  for (const n of file.ui?.nodes ?? []) {
    const p = posOf(n);
    if (p) positions.set(String(n.id), p);
  }
  const uiNodes: Record<string, { pos: [number, number] }> = {};
  const stacked = new Map<string, number>();
  for (const [mfId, comfyId] of Object.entries(translation.nodeMap)) {
    const p = positions.get(comfyId);
    if (!p) continue;
    const i = stacked.get(comfyId) ?? 0;
    stacked.set(comfyId, i + 1);
    uiNodes[mfId] = { pos: [p[0], p[1] + i * 160] };
  }
  wf.ui = {
    ...(Object.keys(uiNodes).length ? { nodes: uiNodes } : {}),
    comfy: {
      untranslated: untranslated.map((u) => ({ ...u, ...(positions.get(u.id) ? { pos: positions.get(u.id) } : {}) })),
    },
  };
  return { format: file.format, workflow: wf, untranslated, nodeMap: translation.nodeMap };
}

