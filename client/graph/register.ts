// One LiteGraph node class per catalogue entry: typed, coloured ports, widgets from the
// param schema, and drawing of run state (running outline, progress, previews, outputs, errors).
import { LGraphCanvas, LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import type { Catalogue, CatalogueNode } from '../types.js';
import type { NodeProps } from './convert.js';
import { addParamWidgets, syncWidgets, type ParamWidget } from './widgets.js';
import { widgetSpecs } from './widget-spec.js';

export type RunState = 'idle' | 'queued' | 'running' | 'cached' | 'done' | 'error';

/** What the editor shows on a node while and after it runs. */
export interface NodeView {
  state: RunState;
  /** 0..1 while running. */
  progress?: number;
  /** Error or validation messages (several problems can name one node). */
  errors: string[];
  /** Step preview while running, output images after. */
  images: HTMLImageElement[];
  /** Wall time of the node's last execution. */
  ms?: number;
  /** Public input names marked on this node's params: param -> input name. */
  publicParams: Record<string, string>;
}

export interface NodeHooks {
  /** A node's context menu gets these extra entries. */
  menu?(node: MaskflowNode): { content: string; callback: () => void }[];
  /** Called on any param change. */
  changed?(node: MaskflowNode): void;
  /** A file dropped on a node. */
  dropFile?(node: MaskflowNode, file: File): void;
  /** Buttons drawn on nodes of a type (e.g. "upload image" on image loaders). */
  buttons?(def: CatalogueNode): { label: string; action(node: MaskflowNode): void }[];
}

const STATE_COLOURS: Partial<Record<RunState, string>> = { running: '#ffd54f', error: '#ff5252', cached: '#90a4ae', done: '#66bb6a' };
const IMAGE_AREA = 220;

export class MaskflowNode extends LGraphNode {
  static def: CatalogueNode;
  static hooks: NodeHooks = {};
  paramWidgets: ParamWidget[] = [];
  view: NodeView = { state: 'idle', errors: [], images: [], publicParams: {} };

  get def(): CatalogueNode {
    return (this.constructor as typeof MaskflowNode).def;
  }

  /** node.properties, typed: workflow id, params and what convert.ts keeps there. */
  get props(): NodeProps {
    return this.properties as unknown as NodeProps;
  }

  get wfId(): string | undefined {
    return this.props.id;
  }

  override onConfigure(): void {
    syncWidgets(this, this.paramWidgets);
    this.refreshLabels();
  }

  override onPropertyChanged(name: string): boolean {
    if (name === 'params') (this.constructor as typeof MaskflowNode).hooks.changed?.(this);
    return true;
  }

  override getExtraMenuOptions(_canvas: LGraphCanvas, options: ({ content: string; callback?: () => void } | null)[]) {
    const extra = (this.constructor as typeof MaskflowNode).hooks.menu?.(this) ?? [];
    if (extra.length) options.unshift(...extra, null);
    return options as never;
  }

  override onDropFile(file: File): void {
    (this.constructor as typeof MaskflowNode).hooks.dropFile?.(this, file);
  }

  /** Widget labels show which params are public workflow inputs. */
  refreshLabels(): void {
    for (const w of this.paramWidgets) {
      const pub = this.view.publicParams[w.spec.name];
      w.widget.label = pub ? `${w.spec.label} ⇐ ${pub}` : w.spec.label;
    }
    this.setDirtyCanvas(true, false);
  }

  setView(patch: Partial<NodeView>): void {
    Object.assign(this.view, patch);
    this.progress = this.view.state === 'running' && this.view.progress !== undefined ? Math.max(0.001, this.view.progress) : undefined;
    if (patch.images && patch.images.length) this.fitImages();
    this.setDirtyCanvas(true, true);
  }

  /** Bottom of the widget area, where images go. */
  private contentBottom(): number {
    const slots = Math.max(this.inputs.length, this.outputs.length);
    const widgets = this.widgets?.length ?? 0;
    return slots * LiteGraph.NODE_SLOT_HEIGHT + widgets * (LiteGraph.NODE_WIDGET_HEIGHT + 4) + 12;
  }

  private fitImages(): void {
    const want = this.contentBottom() + IMAGE_AREA;
    if (this.size[1] < want) this.setSize([Math.max(this.size[0], 260), want]);
  }

  override onDrawBackground(ctx: CanvasRenderingContext2D): void {
    const imgs = this.view.images.filter((i) => i.complete && i.naturalWidth > 0);
    if (!imgs.length || this.flags.collapsed) return;
    const top = this.contentBottom();
    const h = this.size[1] - top - 6;
    if (h < 20) return;
    const w = (this.size[0] - 12) / imgs.length;
    imgs.forEach((img, i) => {
      const scale = Math.min(w / img.naturalWidth, h / img.naturalHeight);
      const dw = img.naturalWidth * scale;
      const dh = img.naturalHeight * scale;
      ctx.drawImage(img, 6 + i * w + (w - dw) / 2, top + (h - dh) / 2, dw, dh);
    });
  }

  override onDrawForeground(ctx: CanvasRenderingContext2D): void {
    const colour = STATE_COLOURS[this.view.state];
    const titleH = LiteGraph.NODE_TITLE_HEIGHT;
    if (colour && this.view.state !== 'done') {
      ctx.save();
      ctx.strokeStyle = colour;
      ctx.lineWidth = this.view.state === 'running' ? 4 : 3;
      ctx.strokeRect(-3, -titleH - 3, this.size[0] + 6, (this.flags.collapsed ? 0 : this.size[1]) + titleH + 6);
      ctx.restore();
    }
    const badge = this.view.state === 'cached' ? 'cached' : this.view.state === 'done' && this.view.ms !== undefined ? formatMs(this.view.ms) : '';
    if (badge) {
      ctx.save();
      ctx.font = '11px sans-serif';
      ctx.fillStyle = '#9e9e9e';
      ctx.textAlign = 'right';
      ctx.fillText(badge, this.size[0] - 8, -titleH / 2 + 4);
      ctx.restore();
    }
    if (this.view.errors.length) {
      ctx.save();
      ctx.font = '12px sans-serif';
      ctx.fillStyle = '#ff8a80';
      let y = (this.flags.collapsed ? 0 : this.size[1]) + 16;
      for (const msg of this.view.errors) for (const line of wrap(ctx, msg, Math.max(this.size[0], 220))) {
        ctx.fillText(line, 0, y);
        y += 15;
      }
      ctx.restore();
    }
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function wrap(ctx: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width > width && line) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.slice(0, 6);
}

/** Registers every catalogue node type and the port colours. Replaces earlier registrations. */
export function registerCatalogue(catalogue: Catalogue, hooks: NodeHooks = {}): void {
  for (const [type, info] of Object.entries(catalogue.portTypes)) {
    LGraphCanvas.link_type_colors[type] = info.color;
  }
  for (const def of catalogue.nodes) {
    const specs = widgetSpecs(def.params);
    const cls = class extends MaskflowNode {
      static override def = def;
      static override hooks = hooks;
      static override title = def.title;
      constructor(title?: string) {
        super(title ?? def.title, def.type);
        for (const [name, spec] of Object.entries(def.inputs)) {
          const slot = this.addInput(name, spec.type);
          slot.color_on = slot.color_off = catalogue.portTypes[spec.type]?.color;
          if (spec.optional) slot.label = `${name}?`;
        }
        for (const [name, spec] of Object.entries(def.outputs)) {
          const slot = this.addOutput(name, spec.type);
          slot.color_on = slot.color_off = catalogue.portTypes[spec.type]?.color;
        }
        this.paramWidgets = addParamWidgets(this, specs);
        for (const b of hooks.buttons?.(def) ?? []) {
          const w = this.addWidget('button', b.label, undefined, () => b.action(this), {});
          w.serialize = false;
        }
        if (def.output) this.color = '#2e5d3a';
        this.serialize_widgets = false;
        this.setSize(this.computeSize());
        this.size[0] = Math.max(this.size[0], 260);
      }
    };
    Object.defineProperty(cls, 'name', { value: `Node_${def.type.replace(/\W/g, '_')}` });
    (cls as unknown as { category: string }).category = def.category;
    (cls as unknown as { description: string }).description = def.description;
    if (LiteGraph.registered_node_types[def.type]) LiteGraph.unregisterNodeType(def.type);
    LiteGraph.registerNodeType(def.type, cls as unknown as typeof LGraphNode);
  }
}
