// Pure, lossless conversion between the server's workflow format and LiteGraph's serialised
// graph (what LGraph.configure() reads and LGraph.serialize() writes). Only litegraph *types*
// are imported, so this module runs anywhere (unit tests run it in node).
//
// Round trip guarantee: fromLiteGraph(toLiteGraph(wf)) deep-equals wf, key order included.
// What LiteGraph has no place for rides along in `extra.maskflow` (workflow metadata, public
// inputs, the original `ui`) and in each node's `properties` (workflow id, params, dangling links).
import type { ISerialisedGraph } from '@comfyorg/litegraph';
import type { ISerialisedGroup, ISerialisedNode } from '@comfyorg/litegraph/dist/types/serialisation';
import type { Catalogue, CatalogueNode, Link, PublicInput, Workflow, WorkflowNode } from '../types.js';
import { autoLayout } from './layout.js';

/** Node layout kept in `workflow.ui.nodes[id]`. */
export interface NodeLayout {
  pos: [number, number];
  size?: [number, number];
  collapsed?: boolean;
  color?: string;
  bgcolor?: string;
}

export interface GroupLayout {
  title: string;
  bounding: [number, number, number, number];
  color?: string;
  font_size?: number;
}

export interface WorkflowUi {
  nodes?: Record<string, NodeLayout>;
  groups?: GroupLayout[];
  viewport?: { offset: [number, number]; scale: number };
  [key: string]: unknown;
}

/** What `extra.maskflow` carries through LiteGraph. */
export interface MaskflowExtra {
  /** The workflow without `nodes` and `ui`, keys in their original order (`nodes`/`ui` as markers). */
  meta: Record<string, unknown>;
  keys: string[];
  /** The original ui (absent when the workflow had none). */
  ui?: unknown;
  /** The layout toLiteGraph derived; unchanged layout means the original ui is returned as is. */
  layout: { nodes: Record<string, NodeLayout>; groups: GroupLayout[] };
}

/** What each LiteGraph node's `properties` carries. */
export interface NodeProps {
  /** The workflow node id ("den"); LiteGraph ids are numbers. */
  id?: string;
  params?: Record<string, unknown>;
  /** The workflow node's own title, when it had one. */
  title?: string;
  /** The workflow node's keys in their original order. */
  keys?: string[];
  /** Links to nodes that do not exist (kept so nothing is lost; validation reports them). */
  dangling?: Record<string, Link>;
  [key: string]: unknown;
}

/** LiteGraph's group title size, written by LGraphGroup.serialize() when unset. */
const DEFAULT_GROUP_FONT = 24;

type LgNode = Omit<ISerialisedNode, 'properties'> & { properties?: NodeProps };

export function toLiteGraph(wf: Workflow, catalogue: Catalogue): ISerialisedGraph {
  const defs = new Map(catalogue.nodes.map((n) => [n.type, n]));
  const ids = Object.keys(wf.nodes);
  const lgId = new Map(ids.map((id, i) => [id, i + 1]));
  const ui = isObject(wf.ui) ? (wf.ui as WorkflowUi) : undefined;
  const uiNodes = isObject(ui?.nodes) ? ui!.nodes! : {};
  const derived = deriveLayout(wf, defs, uiNodes);

  // Slot lists: the catalogue's ports in order, then any names the workflow uses that the
  // catalogue does not know (unknown types, renamed ports), so every link has a slot.
  const inSlots = new Map<string, { name: string; type: string }[]>();
  const outSlots = new Map<string, { name: string; type: string }[]>();
  for (const id of ids) {
    const n = wf.nodes[id]!;
    const def = defs.get(n.type);
    inSlots.set(id, def ? Object.entries(def.inputs).map(([name, s]) => ({ name, type: s.type })) : []);
    outSlots.set(id, def ? Object.entries(def.outputs).map(([name, s]) => ({ name, type: s.type })) : []);
  }
  for (const id of ids) {
    for (const [name, [src, out]] of Object.entries(wf.nodes[id]!.inputs ?? {})) {
      if (!wf.nodes[src]) continue;
      const outs = outSlots.get(src)!;
      if (!outs.some((s) => s.name === out)) outs.push({ name: out, type: '*' });
      const ins = inSlots.get(id)!;
      if (!ins.some((s) => s.name === name)) ins.push({ name, type: outs.find((s) => s.name === out)!.type });
    }
  }

  const links: ISerialisedGraph['links'] = [];
  const nodes: LgNode[] = ids.map((id, index) => {
    const n = wf.nodes[id]!;
    const def = defs.get(n.type);
    const layout = derived.nodes[id]!;
    const ins = inSlots.get(id)!;
    const inputs = ins.map((s) => ({ name: s.name, type: s.type, link: null as number | null }));
    const dangling: Record<string, Link> = {};
    for (const [name, link] of Object.entries(n.inputs ?? {})) {
      const [src, out] = link;
      if (!wf.nodes[src]) {
        dangling[name] = [src, out];
        continue;
      }
      const linkId = links.length + 1;
      const originSlot = outSlots.get(src)!.findIndex((s) => s.name === out);
      const targetSlot = ins.findIndex((s) => s.name === name);
      links.push([linkId, lgId.get(src)!, originSlot, index + 1, targetSlot, ins[targetSlot]!.type]);
      inputs[targetSlot]!.link = linkId;
    }
    const props: NodeProps = { id, keys: Object.keys(n) };
    if (n.params !== undefined) props.params = structuredClone(n.params);
    if (n.title !== undefined) props.title = n.title;
    if (Object.keys(dangling).length) props.dangling = dangling;
    const node: LgNode = {
      id: index + 1,
      type: n.type,
      title: n.title ?? def?.title ?? n.type,
      pos: [layout.pos[0], layout.pos[1]],
      // Without a stored size the node class computes its own (from its slots and widgets).
      size: (layout.size ? [layout.size[0], layout.size[1]] : undefined) as unknown as [number, number],
      flags: layout.collapsed ? { collapsed: true } : {},
      order: index,
      mode: 0,
      inputs,
      outputs: outSlots.get(id)!.map((s) => ({ name: s.name, type: s.type, links: [] as number[] })),
      properties: props,
    };
    if (!layout.size) delete (node as Partial<LgNode>).size;
    if (layout.color) node.color = layout.color;
    if (layout.bgcolor) node.bgcolor = layout.bgcolor;
    return node;
  });
  for (const [linkId, origin, originSlot] of links as unknown as [number, number, number][]) {
    nodes[origin - 1]!.outputs![originSlot]!.links!.push(linkId);
  }

  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wf)) if (k !== 'nodes' && k !== 'ui') meta[k] = structuredClone(v);
  const maskflow: MaskflowExtra = { meta, keys: Object.keys(wf), layout: derived };
  if (wf.ui !== undefined) maskflow.ui = structuredClone(wf.ui);
  const extra: Record<string, unknown> = { maskflow };
  if (ui?.viewport && Array.isArray(ui.viewport.offset)) extra.ds = { offset: [...ui.viewport.offset], scale: ui.viewport.scale };

  return {
    id: '00000000-0000-4000-8000-000000000000',
    revision: 0,
    last_node_id: ids.length,
    last_link_id: links.length,
    nodes: nodes as ISerialisedNode[],
    links,
    groups: derived.groups.map((g, i) => groupToLg(g, i + 1)),
    config: {},
    extra,
    version: 0.4,
  } as ISerialisedGraph;
}

export function fromLiteGraph(graph: ISerialisedGraph, catalogue?: Catalogue): Workflow {
  const defs = new Map((catalogue?.nodes ?? []).map((n) => [n.type, n]));
  const extra = (graph.extra ?? {}) as { maskflow?: MaskflowExtra; ds?: { offset: [number, number]; scale: number } };
  const mf = extra.maskflow;
  const lgNodes = graph.nodes as unknown as LgNode[];
  const wfIds = assignIds(lgNodes);
  const byLgId = new Map(lgNodes.map((n) => [n.id, n]));
  const linkById = new Map(graph.links.map((l) => [l[0], l]));

  const nodes: Record<string, WorkflowNode> = {};
  for (const n of lgNodes) {
    const props = n.properties ?? {};
    const def = defs.get(n.type);
    const defaultTitle = def?.title ?? n.type;
    const out: WorkflowNode & Record<string, unknown> = { type: n.type };
    if (props.title !== undefined || (n.title !== undefined && n.title !== defaultTitle)) out.title = n.title ?? props.title;
    if (props.params !== undefined) out.params = structuredClone(props.params);
    const links: Record<string, Link> = {};
    for (const input of n.inputs ?? []) {
      if (input.link == null) continue;
      const l = linkById.get(input.link);
      const src = l && byLgId.get(l[1]);
      const outName = src?.outputs?.[l![2]]?.name;
      if (src && outName !== undefined) links[input.name] = [wfIds.get(src)!, outName];
    }
    for (const [name, link] of Object.entries(props.dangling ?? {}) as [string, Link][]) if (!links[name]) links[name] = [link[0], link[1]];
    if (Object.keys(links).length || props.keys?.includes('inputs')) out.inputs = links;
    nodes[wfIds.get(n)!] = orderKeys(out, props.keys ?? [], ['type', 'title', 'params', 'inputs']) as unknown as WorkflowNode;
  }

  const current = currentLayout(graph, wfIds);
  let ui: unknown;
  if (mf && sameLayout(current, mf.layout)) {
    ui = mf.ui === undefined ? undefined : structuredClone(mf.ui);
  } else {
    const base = isObject(mf?.ui) ? (structuredClone(mf!.ui) as WorkflowUi) : {};
    const next: WorkflowUi = { ...base, nodes: current.nodes };
    if (current.groups.length || base.groups !== undefined) next.groups = current.groups;
    if (extra.ds) next.viewport = { offset: [round(extra.ds.offset[0]), round(extra.ds.offset[1])], scale: round(extra.ds.scale, 1000) };
    ui = next;
  }

  const wf: Record<string, unknown> = mf ? structuredClone(mf.meta) : { version: 1 };
  wf.nodes = nodes;
  if (ui !== undefined) wf.ui = ui;
  if (wf.version === undefined) wf.version = 1;
  // Public inputs that point at deleted nodes go with them.
  const inputs = wf.inputs as Record<string, PublicInput> | undefined;
  if (inputs && mf) pruneInputs(inputs, (id) => id in mf.layout.nodes && !(id in nodes));
  return orderKeys(wf, mf?.keys ?? [], ['$schema', 'version', 'name', 'description', 'inputs', 'nodes', 'ui']) as unknown as Workflow;
}

/** Workflow ids of LiteGraph nodes: their `properties.id`, else a fresh one from the type name. */
export function assignIds(nodes: readonly { type: string; properties?: NodeProps }[]): Map<object, string> {
  const taken = new Set<string>();
  const result = new Map<object, string>();
  for (const n of nodes) {
    const id = n.properties?.id;
    if (typeof id === 'string' && id && !taken.has(id)) {
      taken.add(id);
      result.set(n, id);
    }
  }
  for (const n of nodes) {
    if (result.has(n)) continue;
    const id = freshId(n.type, taken);
    taken.add(id);
    result.set(n, id);
  }
  return result;
}

/** A readable unique id for a new node: `load-image`, `load-image-2`, ... */
export function freshId(type: string, taken: ReadonlySet<string>): string {
  const base = (type.split('/').pop() || 'node').replace(/[^A-Za-z0-9_.-]/g, '-');
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

function pruneInputs(inputs: Record<string, PublicInput>, deleted: (id: string) => boolean): void {
  for (const [name, input] of Object.entries(inputs)) {
    const hasNode = (id: string | undefined) => id !== undefined && !deleted(id);
    if (input.targets) {
      const kept = input.targets.filter((t) => hasNode(t.node));
      if (kept.length !== input.targets.length) {
        if (kept.length) input.targets = kept;
        else delete input.targets;
      }
    }
    if (input.node !== undefined && !hasNode(input.node)) {
      delete input.node;
      delete input.param;
    }
    if (input.node === undefined && !input.targets) delete inputs[name];
  }
}

function deriveLayout(
  wf: Workflow,
  defs: Map<string, CatalogueNode>,
  uiNodes: Record<string, NodeLayout>,
): MaskflowExtra['layout'] {
  const auto = autoLayout(wf, defs);
  const nodes: Record<string, NodeLayout> = {};
  for (const id of Object.keys(wf.nodes)) {
    const u = uiNodes[id];
    const pos = isPoint(u?.pos) ? u!.pos : auto[id]!;
    const l: NodeLayout = { pos: [pos[0], pos[1]] };
    if (isPoint(u?.size)) l.size = [u!.size![0], u!.size![1]];
    if (u?.collapsed) l.collapsed = true;
    if (typeof u?.color === 'string') l.color = u.color;
    if (typeof u?.bgcolor === 'string') l.bgcolor = u.bgcolor;
    nodes[id] = l;
  }
  const ui = wf.ui as WorkflowUi | undefined;
  const groups = Array.isArray(ui?.groups) ? ui!.groups!.filter((g) => isObject(g) && Array.isArray(g.bounding)) : [];
  return { nodes, groups: structuredClone(groups) };
}

function currentLayout(graph: ISerialisedGraph, wfIds: Map<object, string>): MaskflowExtra['layout'] {
  const nodes: Record<string, NodeLayout> = {};
  for (const n of graph.nodes as unknown as LgNode[]) {
    const l: NodeLayout = { pos: [round(n.pos[0]), round(n.pos[1])] };
    if (n.size) l.size = [round(n.size[0]), round(n.size[1])];
    if (n.flags?.collapsed) l.collapsed = true;
    if (n.color) l.color = n.color;
    if (n.bgcolor) l.bgcolor = n.bgcolor;
    nodes[wfIds.get(n)!] = l;
  }
  const groups = (graph.groups ?? []).map((g: ISerialisedGroup) => {
    const out: GroupLayout = { title: g.title, bounding: g.bounding.map((v: number) => round(v)) as GroupLayout['bounding'] };
    if (g.color) out.color = g.color;
    if (g.font_size !== undefined && g.font_size !== DEFAULT_GROUP_FONT) out.font_size = g.font_size;
    return out;
  });
  return { nodes, groups };
}

function groupToLg(g: GroupLayout, id: number): ISerialisedGroup {
  const out: ISerialisedGroup = { id, title: g.title, bounding: [...g.bounding] };
  if (g.color) out.color = g.color;
  if (g.font_size !== undefined) out.font_size = g.font_size;
  return out;
}

/** Layout unchanged: same nodes at the same places (within rounding), same groups. Sizes count only where the workflow had them. */
function sameLayout(now: MaskflowExtra['layout'], was: MaskflowExtra['layout']): boolean {
  const ids = Object.keys(was.nodes);
  if (ids.length !== Object.keys(now.nodes).length) return false;
  for (const id of ids) {
    const a = now.nodes[id];
    const b = was.nodes[id]!;
    if (!a || !near(a.pos, b.pos)) return false;
    if (b.size && (!a.size || !near(a.size, b.size))) return false;
    if (!!a.collapsed !== !!b.collapsed || a.color !== b.color || a.bgcolor !== b.bgcolor) return false;
  }
  if (now.groups.length !== was.groups.length) return false;
  return now.groups.every((g, i) => {
    const h = was.groups[i]!;
    return g.title === h.title && near(g.bounding, h.bounding) && g.color === h.color && (g.font_size ?? DEFAULT_GROUP_FONT) === (h.font_size ?? DEFAULT_GROUP_FONT);
  });
}

function near(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) < 1);
}

function round(v: number, f = 1): number {
  return Math.round(v * f) / f;
}

function orderKeys(obj: Record<string, unknown>, original: string[], canonical: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of original) if (k in obj) out[k] = obj[k];
  for (const k of canonical) if (k in obj && !(k in out)) out[k] = obj[k];
  for (const k of Object.keys(obj)) if (!(k in out)) out[k] = obj[k];
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPoint(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length >= 2 && typeof v[0] === 'number' && typeof v[1] === 'number';
}
