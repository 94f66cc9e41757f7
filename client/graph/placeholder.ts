// A node of an imported ComfyUI workflow that maskflow could not translate: shown where it
// was, in red, with the reason. It has no slots, is never part of the saved workflow, and
// only tells the user what is missing.
import { LGraphNode, LiteGraph } from '@comfyorg/litegraph';

export const UNTRANSLATED_TYPE = 'comfyui/untranslated';

export interface Untranslated {
  id: string;
  class_type: string;
  reason: string;
  pos?: [number, number];
}

export class UntranslatedNode extends LGraphNode {
  static override title = 'Untranslated ComfyUI node';

  get info(): Untranslated {
    return this.properties as unknown as Untranslated;
  }

  override onDrawForeground(ctx: CanvasRenderingContext2D): void {
    ctx.save();
    ctx.font = '12px sans-serif';
    ctx.fillStyle = '#ff8a80';
    let y = 18;
    const words = `Not translated: ${this.info.reason}`.split(/\s+/);
    let line = '';
    const width = this.size[0] - 12;
    for (const word of words) {
      const next = line ? `${line} ${word}` : word;
      if (ctx.measureText(next).width > width && line) {
        ctx.fillText(line, 6, y);
        y += 15;
        line = word;
      } else line = next;
    }
    if (line) ctx.fillText(line, 6, y);
    ctx.restore();
  }
}

export function registerPlaceholder(): void {
  LiteGraph.registerNodeType(UNTRANSLATED_TYPE, UntranslatedNode);
}

/** The untranslated nodes an imported workflow lists in ui.comfy.untranslated. */
export function untranslatedOf(ui: unknown): Untranslated[] {
  const list = (ui as { comfy?: { untranslated?: unknown } } | undefined)?.comfy?.untranslated;
  return Array.isArray(list) ? (list.filter((u) => u && typeof u.id === 'string' && typeof u.reason === 'string') as Untranslated[]) : [];
}
