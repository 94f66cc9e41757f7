// The side panel: the selected node (description, params made public, image actions),
// the workflow's public inputs, problems of the last run or save, and the output gallery.
import type { GraphEditor } from '../graph/editor.js';
import type { Problem } from '../types.js';

export interface SidebarActions {
  uploadImage(nodeId: string): void;
  paintMask(nodeId: string): void;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class Sidebar {
  constructor(
    private readonly editor: GraphEditor,
    private readonly actions: SidebarActions,
  ) {}

  /** Image nodes get "upload" and "paint mask" actions. */
  static isImageNode(editor: GraphEditor, nodeId: string): boolean {
    const n = editor.node(nodeId);
    const def = n && editor.def(n.type);
    return !!def && def.params.properties?.url?.type === 'string' && Object.values(def.outputs).some((o) => o.type === 'IMAGE');
  }

  showNode(nodeId: string | undefined): void {
    const panel = $('node-panel');
    panel.replaceChildren();
    const n = nodeId ? this.editor.node(nodeId) : undefined;
    if (!n || !nodeId) {
      panel.append(text('p', 'hint', 'Select a node to see its description and make its params public inputs. Right-click the canvas or drag a link to empty space to add nodes.'));
      return;
    }
    const def = n.def;
    panel.append(text('h3', '', `${n.title}`), text('p', 'type', `${def.type} · id ${nodeId}`), text('p', 'desc', def.description));
    if (Sidebar.isImageNode(this.editor, nodeId)) {
      const row = document.createElement('div');
      row.className = 'row';
      row.append(btn('Upload image…', 'btn-upload-image', () => this.actions.uploadImage(nodeId)), btn('Paint mask…', 'btn-paint-mask', () => this.actions.paintMask(nodeId)));
      panel.append(row);
    }
    const params = Object.entries(def.params.properties ?? {});
    if (!params.length) return;
    panel.append(text('h4', '', 'Public inputs'));
    const list = document.createElement('ul');
    list.className = 'params';
    for (const [param, schema] of params) {
      const li = document.createElement('li');
      const current = n.view.publicParams[param];
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = !!current;
      box.dataset.param = param;
      box.title = 'Expose this param as a public input of the workflow';
      const name = document.createElement('input');
      name.type = 'text';
      name.value = current ?? param;
      name.className = 'public-name';
      name.dataset.param = param;
      name.pattern = '[A-Za-z_][A-Za-z0-9_]*';
      name.disabled = !current;
      const apply = () => {
        const prev = n.view.publicParams[param];
        if (prev) this.editor.removePublicInput(prev);
        if (box.checked && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name.value)) this.editor.setPublicInput(name.value, nodeId, param, schema.description);
        name.disabled = !box.checked;
        this.showInputs();
      };
      box.addEventListener('change', apply);
      name.addEventListener('change', apply);
      const label = document.createElement('label');
      label.append(box, document.createTextNode(` ${param} `));
      label.title = schema.description ?? '';
      li.append(label, name);
      list.append(li);
    }
    panel.append(list);
  }

  showInputs(): void {
    const list = $('public-inputs');
    list.replaceChildren();
    const inputs = Object.entries(this.editor.publicInputs());
    if (!inputs.length) list.append(text('li', 'hint', 'None. Select a node and tick a param to make it a public input.'));
    for (const [name, input] of inputs) {
      const li = document.createElement('li');
      const targets = [...(input.node ? [`${input.node}.${input.param}`] : []), ...(input.targets ?? []).map((t) => `${t.node}.${t.param}`)];
      const link = text('a', 'target', `${name} → ${targets.join(', ')}`);
      link.addEventListener('click', () => input.node && this.editor.centreOn(input.node));
      li.append(link, btn('×', '', () => {
        this.editor.removePublicInput(name);
        this.showInputs();
        this.showNode(this.editor.selectedIds()[0]);
      }));
      list.append(li);
    }
  }

  showProblems(problems: Problem[]): void {
    const list = $('problems');
    list.replaceChildren();
    $('problems-panel').classList.toggle('has-problems', problems.length > 0);
    for (const p of problems) {
      const li = text('li', 'problem', `${p.nodeId ? `${p.nodeId}: ` : ''}${p.message}`);
      li.title = `${p.code} at ${p.path}`;
      if (p.nodeId) li.addEventListener('click', () => this.editor.centreOn(p.nodeId!));
      list.append(li);
    }
  }

  addToGallery(images: { url: string; nodeId: string; runId: string }[]): void {
    const gallery = $('gallery');
    for (const img of images.reverse()) {
      const a = document.createElement('a');
      a.href = img.url;
      a.target = '_blank';
      a.title = `${img.nodeId} · run ${img.runId}`;
      const el = document.createElement('img');
      el.src = img.url;
      el.alt = `output of ${img.nodeId}`;
      a.append(el);
      gallery.prepend(a);
    }
  }
}

function text(tag: string, cls: string, content: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.textContent = content;
  return e;
}

function btn(label: string, id: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (id) b.id = id;
  b.addEventListener('click', onClick);
  return b;
}
