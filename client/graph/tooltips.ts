// Hover tooltips: node descriptions on titles, port descriptions on slots, param
// descriptions on widgets (LiteGraph draws none of these itself).
import type { LGraphCanvas } from '@comfyorg/litegraph';
import { LiteGraph } from '@comfyorg/litegraph';
import type { Catalogue } from '../types.js';
import { MaskflowNode } from './register.js';

export function attachTooltips(canvas: LGraphCanvas, catalogue: Catalogue): void {
  const tip = document.createElement('div');
  tip.className = 'mf-tooltip';
  tip.hidden = true;
  document.body.append(tip);
  let timer: ReturnType<typeof setTimeout> | undefined;

  const hide = () => {
    clearTimeout(timer);
    tip.hidden = true;
  };
  canvas.canvas.addEventListener('pointerleave', hide);
  canvas.canvas.addEventListener('pointerdown', hide);
  canvas.canvas.addEventListener('pointermove', (e: PointerEvent) => {
    hide();
    if (e.buttons) return;
    timer = setTimeout(() => {
      const text = textAt(canvas, catalogue);
      if (!text) return;
      tip.textContent = text;
      tip.style.left = `${e.clientX + 14}px`;
      tip.style.top = `${e.clientY + 14}px`;
      tip.hidden = false;
    }, 450);
  });
}

function textAt(canvas: LGraphCanvas, catalogue: Catalogue): string | undefined {
  const [x, y] = canvas.graph_mouse;
  const node = canvas.graph?.getNodeOnPos(x, y);
  if (!(node instanceof MaskflowNode)) return undefined;
  const def = node.def;
  const slot = node.getSlotInPosition(x, y);
  if (slot?.input) {
    const spec = def.inputs[slot.input.name];
    const type = String(slot.input.type);
    return `${slot.input.name} (${type}${spec?.optional ? ', optional' : ''}): ${spec?.description ?? catalogue.portTypes[type]?.description ?? ''}`;
  }
  if (slot?.output) {
    const spec = def.outputs[slot.output.name];
    const type = String(slot.output.type);
    return `${slot.output.name} (${type}): ${spec?.description ?? catalogue.portTypes[type]?.description ?? ''}`;
  }
  const widget = node.getWidgetOnPos(x, y);
  if (widget) return widget.tooltip || undefined;
  if (y < node.pos[1]) return `${def.title} (${def.type}): ${def.description}`;
  if (y - node.pos[1] < LiteGraph.NODE_SLOT_HEIGHT * 0.8) return def.description;
  return undefined;
}
