// Automatic layout for workflows without positions: columns by dependency depth, nodes
// stacked in each column in workflow order. Pure, deterministic.
import type { CatalogueNode, Workflow } from '../types.js';

export const NODE_WIDTH = 280;
const COLUMN_GAP = 60;
const ROW_GAP = 40;
const SLOT_HEIGHT = 20;
const WIDGET_HEIGHT = 24;
const TITLE_HEIGHT = 30;

/** A rough node height from its slot and param counts (LiteGraph computes the real one). */
export function estimateNodeHeight(def: CatalogueNode | undefined): number {
  if (!def) return 60;
  const slots = Math.max(Object.keys(def.inputs).length, Object.keys(def.outputs).length);
  const params = Object.keys(def.params.properties ?? {}).length;
  return TITLE_HEIGHT + slots * SLOT_HEIGHT + params * (WIDGET_HEIGHT + 4) + 10;
}

export function autoLayout(wf: Workflow, defs: Map<string, CatalogueNode>): Record<string, [number, number]> {
  const ids = Object.keys(wf.nodes);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // cycles are reported by validation; lay them out anyway
    visiting.add(id);
    let d = 0;
    for (const [src] of Object.values(wf.nodes[id]?.inputs ?? {})) if (wf.nodes[src]) d = Math.max(d, depthOf(src) + 1);
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  const columnY = new Map<number, number>();
  const pos: Record<string, [number, number]> = {};
  for (const id of ids) {
    const col = depthOf(id);
    const y = columnY.get(col) ?? 0;
    pos[id] = [col * (NODE_WIDTH + COLUMN_GAP), y];
    columnY.set(col, y + estimateNodeHeight(defs.get(wf.nodes[id]!.type)) + ROW_GAP);
  }
  return pos;
}
