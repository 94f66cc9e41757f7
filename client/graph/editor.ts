// The graph editor: a LiteGraph graph and canvas, loaded from and saved to the server's
// workflow format, with the run state shown on nodes. The rest of the client talks to this
// class only, so litegraph stays inside client/graph/.
import '@comfyorg/litegraph/style.css';
import { LGraph, LGraphCanvas, LiteGraph, type LGraphNode } from '@comfyorg/litegraph';
import type { Catalogue, CatalogueNode, Problem, PublicInput, Workflow } from '../types.js';
import { freshId, fromLiteGraph, toLiteGraph, type MaskflowExtra } from './convert.js';
import { MaskflowNode, registerCatalogue, type NodeHooks, type NodeView } from './register.js';
import { randomizeSeeds, setParam, paramValue } from './widgets.js';
import { attachTooltips } from './tooltips.js';
import { registerPlaceholder, UNTRANSLATED_TYPE, untranslatedOf, UntranslatedNode, type Untranslated } from './placeholder.js';

/** Fitting the view never zooms out further than this. */
const MIN_FIT_SCALE = 0.6;

export interface EditorOptions {
  hooks?: NodeHooks;
  /** Any change the user makes to the graph. */
  onChange?(): void;
  onSelection?(nodeIds: string[]): void;
}

export class GraphEditor {
  readonly graph = new LGraph();
  readonly canvas: LGraphCanvas;
  private catalogue: Catalogue;
  private loading = false;

  constructor(
    readonly element: HTMLCanvasElement,
    catalogue: Catalogue,
    private readonly options: EditorOptions = {},
  ) {
    this.catalogue = catalogue;
    LiteGraph.release_link_on_empty_shows_menu = true;
    LiteGraph.alwaysSnapToGrid = false;
    registerPlaceholder();
    registerCatalogue(catalogue, {
      ...options.hooks,
      changed: (n) => {
        options.hooks?.changed?.(n);
        this.changed(n);
      },
    });
    this.canvas = new LGraphCanvas(element, this.graph, { autoresize: true } as never);
    this.canvas.allow_searchbox = true;
    this.canvas.show_info = false;
    this.canvas.render_canvas_border = false;
    this.colourSlots();
    this.graph.onNodeAdded = (node) => this.nodeAdded(node);
    this.graph.onAfterChange = () => this.changed();
    this.canvas.onSelectionChange = () => this.options.onSelection?.(this.selectedIds());
    attachTooltips(this.canvas, catalogue);
  }

  get nodeTypes(): CatalogueNode[] {
    return this.catalogue.nodes;
  }

  def(type: string): CatalogueNode | undefined {
    return this.catalogue.nodes.find((n) => n.type === type);
  }

  load(wf: Workflow): void {
    this.loading = true;
    try {
      this.graph.clear();
      this.graph.configure(toLiteGraph(wf, this.catalogue));
      this.addUntranslated(untranslatedOf(wf.ui));
      this.refreshPublicMarks();
    } finally {
      this.loading = false;
    }
    const ds = (this.graph.extra as { ds?: { offset: [number, number]; scale: number } }).ds;
    if (ds) {
      this.canvas.ds.offset = [ds.offset[0], ds.offset[1]];
      this.canvas.ds.scale = ds.scale;
    } else this.fitView();
    this.canvas.setDirty(true, true);
  }

  toWorkflow(): Workflow {
    this.ensureIds();
    const extra = this.graph.extra as Record<string, unknown>;
    extra.ds = { offset: [...this.canvas.ds.offset], scale: this.canvas.ds.scale };
    const graph = this.graph.serialize() as { nodes: Array<{ type: string }> };
    // Placeholders for untranslated ComfyUI nodes are not part of the workflow (they have no links).
    return fromLiteGraph({ ...graph, nodes: graph.nodes.filter((n) => n.type !== UNTRANSLATED_TYPE) } as never, this.catalogue);
  }

  /** Untranslated ComfyUI nodes shown as placeholders (imported workflows). */
  untranslated(): Untranslated[] {
    return (this.graph.nodes as LGraphNode[]).filter((n): n is UntranslatedNode => n instanceof UntranslatedNode).map((n) => ({ ...n.info }));
  }

  private addUntranslated(list: Untranslated[]): void {
    let y = 0;
    for (const u of list) {
      const node = LiteGraph.createNode(UNTRANSLATED_TYPE) as UntranslatedNode | null;
      if (!node) continue;
      node.title = `${u.class_type} (ComfyUI #${u.id})`;
      node.properties = { ...u } as never;
      node.color = '#7a1f1f';
      node.bgcolor = '#3a1414';
      node.size = [280, 80];
      node.pos = u.pos ? [u.pos[0], u.pos[1]] : [-400, (y += 120)];
      this.graph.add(node);
    }
  }

  get meta(): Record<string, unknown> {
    return this.maskflowExtra().meta;
  }

  /** Sets a top-level workflow field (name, description). */
  setMeta(key: 'name' | 'description', value: string | undefined): void {
    const mf = this.maskflowExtra();
    if (value === undefined || value === '') delete mf.meta[key];
    else {
      mf.meta[key] = value;
      if (!mf.keys.includes(key)) mf.keys.splice(Math.max(1, mf.keys.indexOf('version') + 1), 0, key);
    }
  }

  nodes(): MaskflowNode[] {
    return (this.graph.nodes as LGraphNode[]).filter((n): n is MaskflowNode => n instanceof MaskflowNode);
  }

  node(wfId: string): MaskflowNode | undefined {
    return this.nodes().find((n) => n.wfId === wfId);
  }

  selectedIds(): string[] {
    return [...this.canvas.selectedItems].filter((n): n is MaskflowNode => n instanceof MaskflowNode).map((n) => n.wfId!);
  }

  deleteSelected(): void {
    this.canvas.deleteSelected();
    this.changed();
  }

  fitView(): void {
    const nodes = this.graph.nodes as LGraphNode[];
    if (!nodes.length) return;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const n of nodes) {
      x0 = Math.min(x0, n.pos[0]);
      y0 = Math.min(y0, n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT);
      x1 = Math.max(x1, n.pos[0] + n.size[0]);
      y1 = Math.max(y1, n.pos[1] + n.size[1]);
    }
    this.canvas.resize();
    const ds = this.canvas.ds;
    ds.fitToBounds([x0 - 40, y0 - 40, x1 - x0 + 80, y1 - y0 + 80]);
    // Keep text readable: below this zoom, start at the left of the graph instead of showing all of it.
    if (ds.scale < MIN_FIT_SCALE) {
      ds.scale = MIN_FIT_SCALE;
      ds.offset = [-(x0 - 40), -(y0 - 40)];
    }
    this.canvas.setDirty(true, true);
  }

  /** Zooms about the middle of the view (toolbar buttons; touch screens have no wheel). */
  zoom(factor: number): void {
    const rect = this.element.getBoundingClientRect();
    this.canvas.ds.changeScale(this.canvas.ds.scale * factor, [rect.width / 2, rect.height / 2]);
    this.canvas.setDirty(true, true);
  }

  // ---- public inputs ----

  publicInputs(): Record<string, PublicInput> {
    return (this.meta.inputs as Record<string, PublicInput> | undefined) ?? {};
  }

  setPublicInput(name: string, nodeId: string, param: string, description?: string): void {
    const mf = this.maskflowExtra();
    const inputs = { ...(mf.meta.inputs as Record<string, PublicInput> | undefined) };
    for (const [n, input] of Object.entries(inputs)) if (input.node === nodeId && input.param === param) delete inputs[n];
    inputs[name] = description ? { node: nodeId, param, description } : { node: nodeId, param };
    mf.meta.inputs = inputs;
    if (!mf.keys.includes('inputs')) mf.keys.splice(mf.keys.indexOf('nodes') >= 0 ? mf.keys.indexOf('nodes') : mf.keys.length, 0, 'inputs');
    this.refreshPublicMarks();
    this.changed();
  }

  removePublicInput(name: string): void {
    const inputs = { ...this.publicInputs() };
    delete inputs[name];
    this.maskflowExtra().meta.inputs = inputs;
    this.refreshPublicMarks();
    this.changed();
  }

  private refreshPublicMarks(): void {
    for (const n of this.nodes()) n.view.publicParams = {};
    for (const [name, input] of Object.entries(this.publicInputs())) {
      const targets = [...(input.node && input.param ? [{ node: input.node, param: input.param }] : []), ...(input.targets ?? [])];
      for (const t of targets) {
        const n = this.node(t.node);
        if (n) n.view.publicParams[t.param] = name;
      }
    }
    for (const n of this.nodes()) n.refreshLabels();
  }

  // ---- params ----

  param(nodeId: string, name: string): unknown {
    const n = this.node(nodeId);
    const w = n?.paramWidgets.find((p) => p.spec.name === name);
    return n && w ? paramValue(n, w.spec) : undefined;
  }

  setParam(nodeId: string, name: string, value: unknown): void {
    const n = this.node(nodeId);
    if (!n) return;
    setParam(n, name, value);
    n.onConfigure();
  }

  /** New random seeds where the node asks for them; called before each run. */
  randomizeSeeds(): void {
    for (const n of this.nodes()) randomizeSeeds(n, n.paramWidgets);
  }

  /** Adds a node of the given type; returns its workflow id. */
  addNode(type: string, pos?: [number, number], params?: Record<string, unknown>): string {
    const node = LiteGraph.createNode(type) as MaskflowNode | null;
    if (!node) throw new Error(`unknown node type ${type}`);
    if (params) node.props.params = { ...params };
    node.pos = pos ?? this.viewCentre();
    this.graph.add(node);
    node.onConfigure();
    this.changed();
    return node.wfId!;
  }

  /** Links source output to target input (replacing any link into that input). */
  connect(srcId: string, output: string, dstId: string, input: string): boolean {
    const src = this.node(srcId);
    const dst = this.node(dstId);
    if (!src || !dst) return false;
    const o = src.outputs.findIndex((s) => s.name === output);
    const i = dst.inputs.findIndex((s) => s.name === input);
    if (o < 0 || i < 0) return false;
    const ok = src.connect(o, dst, i) !== null;
    this.changed();
    return ok;
  }

  /** Nodes fed by an output of the given node, with the input name. */
  consumers(nodeId: string): { node: MaskflowNode; input: string; output: string }[] {
    const out: { node: MaskflowNode; input: string; output: string }[] = [];
    const src = this.node(nodeId);
    if (!src) return out;
    for (const n of this.nodes()) {
      for (const input of n.inputs) {
        if (input.link == null) continue;
        const link = this.graph.links.get(input.link);
        if (link && link.origin_id === src.id) out.push({ node: n, input: input.name, output: src.outputs[link.origin_slot]?.name ?? '' });
      }
    }
    return out;
  }

  /** The node linked into an input, if any. */
  source(nodeId: string, input: string): MaskflowNode | undefined {
    const n = this.node(nodeId);
    const slot = n?.inputs.find((s) => s.name === input);
    if (!slot || slot.link == null) return undefined;
    const link = this.graph.links.get(slot.link);
    const src = link && this.graph.getNodeById(link.origin_id);
    return src instanceof MaskflowNode ? src : undefined;
  }

  // ---- run state ----

  resetRunState(): void {
    for (const n of this.nodes()) n.setView({ state: 'idle', errors: [], progress: undefined, ms: undefined });
  }

  setNodeView(nodeId: string, patch: Partial<NodeView>): void {
    this.node(nodeId)?.setView(patch);
  }

  /** Marks each problem on its node; returns the problems that name no node. */
  showProblems(problems: Problem[]): Problem[] {
    const general: Problem[] = [];
    const byNode = new Map<string, string[]>();
    for (const p of problems) {
      const node = p.nodeId ? this.node(p.nodeId) : undefined;
      if (!node) {
        general.push(p);
        continue;
      }
      byNode.set(p.nodeId!, [...(byNode.get(p.nodeId!) ?? []), p.message]);
    }
    for (const [id, errors] of byNode) this.node(id)!.setView({ state: 'error', errors });
    return general;
  }

  centreOn(nodeId: string): void {
    const n = this.node(nodeId);
    if (!n) return;
    this.canvas.centerOnNode(n);
    this.canvas.selectNode(n);
    this.canvas.setDirty(true, true);
  }

  // ---- internals ----

  private maskflowExtra(): MaskflowExtra {
    const extra = this.graph.extra as { maskflow?: MaskflowExtra };
    extra.maskflow ??= { meta: { version: 1 }, keys: ['version', 'nodes'], layout: { nodes: {}, groups: [] } };
    return extra.maskflow;
  }

  /** Every node has a unique workflow id (pasted copies carry their original's). */
  private ensureIds(): void {
    const taken = new Set<string>();
    for (const n of this.nodes()) {
      let id = n.props.id;
      if (!id || taken.has(id)) {
        id = freshId(n.type, taken);
        n.props.id = id;
        delete n.props.title;
        delete n.props.keys;
      }
      taken.add(id);
    }
  }

  private nodeAdded(node: LGraphNode): void {
    if (this.loading || !(node instanceof MaskflowNode)) return;
    const taken = new Set(this.nodes().filter((n) => n !== node).map((n) => n.wfId!));
    if (!node.props.id || taken.has(node.props.id)) {
      node.props.id = freshId(node.type, taken);
      delete node.props.title;
      delete node.props.keys;
    }
  }

  private changed(_node?: MaskflowNode): void {
    if (!this.loading) this.options.onChange?.();
  }

  private viewCentre(): [number, number] {
    const [w, h] = [this.element.width / (window.devicePixelRatio || 1), this.element.height / (window.devicePixelRatio || 1)];
    const p = this.canvas.ds.convertCanvasToOffset([w / 2 - 120, h / 2 - 60]);
    return [p[0], p[1]];
  }

  private colourSlots(): void {
    for (const [type, info] of Object.entries(this.catalogue.portTypes)) {
      this.canvas.default_connection_color_byType[type] = info.color;
      this.canvas.default_connection_color_byTypeOff[type] = info.color;
    }
  }
}
