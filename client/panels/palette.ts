// The node palette: every catalogue node by category, filterable; a click adds the node in the
// middle of the view (the canvas menu and search do the same with a mouse; this works on tablets).
import type { GraphEditor } from '../graph/editor.js';

export function renderPalette(root: HTMLElement, editor: GraphEditor, onAdded: (id: string) => void): void {
  const filter = document.createElement('input');
  filter.type = 'search';
  filter.placeholder = 'Filter nodes…';
  filter.id = 'palette-filter';
  filter.setAttribute('aria-label', 'Filter nodes');
  const list = document.createElement('div');
  list.className = 'palette';
  const byCategory = new Map<string, typeof editor.nodeTypes>();
  for (const def of editor.nodeTypes) byCategory.set(def.category, [...(byCategory.get(def.category) ?? []), def]);
  const groups: { details: HTMLDetailsElement; buttons: { el: HTMLButtonElement; text: string }[] }[] = [];
  for (const [category, defs] of [...byCategory].sort(([a], [b]) => a.localeCompare(b))) {
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = `${category} (${defs.length})`;
    details.append(summary);
    const buttons = defs.map((def) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = def.title;
      b.title = `${def.type}: ${def.description}`;
      b.dataset.type = def.type;
      b.addEventListener('click', () => onAdded(editor.addNode(def.type)));
      details.append(b);
      return { el: b, text: `${def.title} ${def.type} ${def.description}`.toLowerCase() };
    });
    groups.push({ details, buttons });
    list.append(details);
  }
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const g of groups) {
      let any = false;
      for (const b of g.buttons) {
        const show = !q || b.text.includes(q);
        b.el.hidden = !show;
        any ||= show;
      }
      g.details.hidden = !any;
      g.details.open = !!q && any;
    }
  });
  root.replaceChildren(filter, list);
}
