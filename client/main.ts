// Editor entry: loads the catalogue, opens the default (or requested) workflow, and wires the
// toolbar, side panel, keyboard shortcuts, drag and drop, running and the mask painter.
import { api, ApiError, browserUrl } from './api.js';
import { GraphEditor } from './graph/editor.js';
import { connectMask, currentMaskUrl } from './mask-link.js';
import { openMaskPainter } from './mask-painter/painter.js';
import { ModelsPanel } from './panels/models.js';
import { renderPalette } from './panels/palette.js';
import { Sidebar } from './panels/sidebar.js';
import { isPng, parseWorkflow, workflowFromPng } from './png.js';
import { RunController } from './run-controller.js';
import type { Catalogue, CatalogueNode, Workflow } from './types.js';
// After the editor (and litegraph's stylesheet), so ours wins.
import './style.css';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const EMPTY: Workflow = { version: 1, nodes: {} };
/** What the no-model note suggests pulling: the SDXL inpainting model diffusers publishes. */
const SUGGESTED_MODEL = 'diffusers/stable-diffusion-xl-1.0-inpainting-0.1';

/** Node types that load an image from a `url` param get upload and mask-painting actions. */
function isImageLoader(def: CatalogueNode): boolean {
  return def.params.properties?.url?.type === 'string' && Object.values(def.outputs).some((o) => o.type === 'IMAGE');
}

function status(text: string, kind: 'info' | 'busy' | 'error' | 'ok' = 'info'): void {
  const s = $('status');
  s.textContent = text;
  s.title = text;
  s.dataset.kind = kind;
}

/** Params annotated `x-choices: models` become a list of the installed models ("" = default). */
function offerInstalledModels(catalogue: Catalogue, models: string[]): void {
  for (const node of catalogue.nodes)
    for (const prop of Object.values(node.params.properties ?? {}))
      if (prop['x-choices'] === 'models' && models.length) prop.enum = ['', ...models];
}

async function main(): Promise<void> {
  const catalogue = await api.catalogue();
  offerInstalledModels(catalogue, (await api.health().catch(() => undefined))?.models.map((m) => m.name) ?? []);
  let builtins = new Set<string>();
  let sidebar: Sidebar;
  const editor: GraphEditor = new GraphEditor($<HTMLCanvasElement>('graph'), catalogue, {
    hooks: {
      menu: (node) =>
        Sidebar.isImageNode(editor, node.wfId!)
          ? [
              { content: 'Upload image…', callback: () => uploadImage(node.wfId!) },
              { content: 'Paint mask…', callback: () => void paintMask(node.wfId!) },
            ]
          : [],
      changed: (node) => showSourceImage(node.wfId!),
      buttons: (def) =>
        isImageLoader(def)
          ? [
              { label: 'upload image…', action: (node) => uploadImage(node.wfId!) },
              { label: 'paint mask…', action: (node) => void paintMask(node.wfId!) },
            ]
          : [],
      dropFile: (node, file) => void dropOnNode(node.wfId!, file),
    },
    onSelection: (ids) => sidebar.showNode(ids[0]),
    onChange: () => setDirty(true),
  });
  sidebar = new Sidebar(editor, { uploadImage: (id) => uploadImage(id), paintMask: (id) => void paintMask(id) });
  const runner = new RunController(editor, {
    status,
    running: (active) => {
      $<HTMLButtonElement>('btn-run').disabled = active;
      $<HTMLButtonElement>('btn-cancel').disabled = !active;
    },
    problems: (p) => sidebar.showProblems(p),
    gallery: (images) => sidebar.addToGallery(images),
  });

  // ---- workflows ----
  let dirty = false;
  function setDirty(value: boolean): void {
    dirty = value;
    document.title = `${dirty ? '• ' : ''}${$<HTMLInputElement>('wf-name').value || 'untitled'} · maskflow`;
    $('btn-save').classList.toggle('dirty', dirty);
  }
  /** Asks before unsaved changes are replaced. */
  const discardOk = () => !dirty || confirm('The workflow has unsaved changes. Discard them?');
  window.addEventListener('beforeunload', (e) => {
    if (dirty) e.preventDefault();
  });
  const load = (wf: Workflow, name?: string) => {
    editor.load(wf);
    $<HTMLInputElement>('wf-name').value = name ?? wf.name ?? '';
    sidebar.showNode(undefined);
    sidebar.showInputs();
    sidebar.showProblems([]);
    for (const n of editor.nodes()) showSourceImage(n.wfId!);
    setDirty(false);
  };
  const refreshList = async () => {
    const list = await api.listWorkflows();
    builtins = new Set(list.filter((w) => w.builtin).map((w) => w.name));
    const select = $<HTMLSelectElement>('wf-list');
    select.replaceChildren(new Option('Open…', ''), ...list.map((w) => new Option(`${w.name}${w.builtin ? ' (built-in)' : ''}`, w.name)));
  };
  const open = async (name: string) => {
    load(await api.getWorkflow(name), name);
    status(`Opened ${name}`);
  };
  const save = async () => {
    const name = $<HTMLInputElement>('wf-name').value.trim();
    if (!name) return status('Name the workflow first (the field left of Open)', 'error');
    if (builtins.has(name)) return status(`"${name}" is built-in and read-only: save it under another name`, 'error');
    editor.setMeta('name', name);
    try {
      await api.saveWorkflow(name, editor.toWorkflow());
      setDirty(false);
      status(`Saved ${name}`, 'ok');
      sidebar.showProblems([]);
      await refreshList();
    } catch (err) {
      if (err instanceof ApiError && err.problems.length) {
        editor.showProblems(err.problems);
        sidebar.showProblems(err.problems);
      }
      status(`Not saved: ${(err as Error).message}`, 'error');
    }
  };
  const remove = async () => {
    const name = $<HTMLInputElement>('wf-name').value.trim();
    if (!name || builtins.has(name)) return status('Only your own saved workflows can be deleted', 'error');
    if (!confirm(`Delete the saved workflow "${name}"?`)) return;
    try {
      await api.deleteWorkflow(name);
      await refreshList();
      status(`Deleted ${name}`, 'ok');
    } catch (err) {
      status((err as Error).message, 'error');
    }
  };
  const download = () => {
    const name = $<HTMLInputElement>('wf-name').value.trim() || 'workflow';
    const blob = new Blob([`${JSON.stringify(editor.toWorkflow(), null, 2)}\n`], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${name}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  /** A workflow JSON or a PNG with an embedded workflow, maskflow's or ComfyUI's; returns false when the file holds none. */
  const openFile = async (file: File): Promise<boolean> => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const wf = isPng(bytes) ? await workflowFromPng(bytes) : parseWorkflow(new TextDecoder().decode(bytes));
    const name = file.name.replace(/\.(json|png)$/i, '');
    if (wf) {
      load(wf, name);
      status(`Loaded ${file.name}`);
      return true;
    }
    const imported = await api.importComfy(file).catch((err: unknown) => {
      if (err instanceof ApiError && err.code === 'no_comfyui_workflow') return undefined;
      throw err;
    });
    if (!imported) return false;
    load(imported.workflow, name);
    const missing = imported.untranslated.length;
    status(`Imported ComfyUI workflow ${file.name}${missing ? `: ${missing} node(s) not translated (marked red)` : ''}`, missing ? 'error' : 'ok');
    return true;
  };

  // ---- images and masks ----
  /** Image and mask loaders show what their url points at. */
  function showSourceImage(nodeId: string): void {
    const node = editor.node(nodeId);
    const def = node && editor.def(node.type);
    if (!def || def.params.properties?.url?.type !== 'string' || !Object.values(def.outputs).some((o) => o.type === 'IMAGE' || o.type === 'MASK')) return;
    const url = browserUrl(editor.param(nodeId, 'url'));
    if (!url) return;
    const img = new Image();
    img.onload = () => editor.canvas.setDirty(true, true);
    img.src = url;
    editor.setNodeView(nodeId, { images: [img] });
  }
  async function setImage(nodeId: string, file: File): Promise<void> {
    status(`Uploading ${file.name}…`, 'busy');
    const { url } = await api.upload(file);
    editor.setParam(nodeId, 'url', url);
    showSourceImage(nodeId);
    status(`Image loaded into ${nodeId}`, 'ok');
  }
  function uploadImage(nodeId: string): void {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = 'image/*';
    input.onchange = () => input.files?.[0] && void setImage(nodeId, input.files[0]).catch((e: Error) => status(e.message, 'error'));
    input.click();
  }
  async function dropOnNode(nodeId: string, file: File): Promise<void> {
    if (Sidebar.isImageNode(editor, nodeId) && file.type.startsWith('image/')) await setImage(nodeId, file).catch((e: Error) => status(e.message, 'error'));
  }
  async function paintMask(nodeId: string): Promise<void> {
    const url = browserUrl(editor.param(nodeId, 'url'));
    if (!url) return status('Load an image into the node first (upload image…)', 'error');
    try {
      const result = await openMaskPainter({ imageUrl: url, maskUrl: currentMaskUrl(editor, nodeId) });
      if (!result) return;
      status('Uploading mask…', 'busy');
      const { url: maskUrl } = await api.upload(result.png);
      status(`${connectMask(editor, nodeId, maskUrl)} (${Math.round(result.coverage * 100)}% to repaint)`, 'ok');
    } catch (err) {
      status((err as Error).message, 'error');
    }
  }

  renderPalette($('palette'), editor, (id) => {
    editor.centreOn(id);
    status(`Added ${id}`);
  });

  // ---- toolbar, keys, drop ----
  $('btn-run').addEventListener('click', () => runner.run());
  $('btn-cancel').addEventListener('click', () => runner.cancel());
  $('btn-save').addEventListener('click', () => void save());
  $('btn-delete').addEventListener('click', () => void remove());
  $('btn-download').addEventListener('click', download);
  $('btn-new').addEventListener('click', () => discardOk() && load(EMPTY, ''));
  $('btn-fit').addEventListener('click', () => editor.fitView());
  $('btn-zoom-in').addEventListener('click', () => editor.zoom(1.25));
  $('btn-zoom-out').addEventListener('click', () => editor.zoom(0.8));
  $('btn-sidebar').addEventListener('click', () => document.body.classList.toggle('sidebar-open'));
  $<HTMLSelectElement>('wf-list').addEventListener('change', (e) => {
    const name = (e.target as HTMLSelectElement).value;
    (e.target as HTMLSelectElement).value = '';
    if (name && discardOk()) void open(name).catch((err: Error) => status(err.message, 'error'));
  });
  $<HTMLInputElement>('file-input').addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (file) void openFile(file).then((ok) => ok || status(`${file.name} holds no maskflow workflow`, 'error'));
  });
  window.addEventListener('keydown', (e) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement;
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault();
      runner.run();
    } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
      e.preventDefault();
      void save();
    } else if (!typing && (e.key === 'Delete' || e.key === 'Backspace') && document.querySelector('.mf-painter') === null) {
      if (document.activeElement !== editor.canvas.canvas) editor.deleteSelected();
    }
  });
  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const file = e.dataTransfer?.files[0];
    if (!file) return;
    const [x, y] = editor.canvas.convertEventToCanvasOffset(e);
    const node = editor.graph.getNodeOnPos(x, y);
    void (async () => {
      const target = node && editor.nodes().find((n) => n === node)?.wfId;
      if (target && Sidebar.isImageNode(editor, target) && file.type.startsWith('image/')) return dropOnNode(target, file);
      if (!(await openFile(file))) status(`${file.name} holds no maskflow workflow (drop images on a Load image node)`, 'error');
    })();
  });

  // ---- models ----
  const modelsPanel = new ModelsPanel({
    status,
    changed: (models) => {
      // A model arrived: the no-model note says how to use it.
      const note = $('note');
      if (!note.hidden && note.dataset.reason === 'no-model' && models.length) {
        note.innerHTML = `<b>Model ${models.map((m) => m.name).join(', ')} installed.</b> Open <code>sdxl-inpaint</code> to inpaint with it. <button type="button" class="close" aria-label="Dismiss">×</button>`;
        note.querySelector('button')!.addEventListener('click', () => (note.hidden = true));
      }
    },
  });
  void modelsPanel.refresh();

  // ---- start ----
  await refreshList().catch(() => undefined);
  const requested = new URLSearchParams(location.search).get('workflow');
  let initial = requested ?? 'sdxl-inpaint';
  if (!requested) {
    const health = await api.health().catch(() => undefined);
    const hasModel = !!health?.models.some((m) => m.complete);
    if (!hasModel) {
      initial = 'classical-fill';
      const note = $('note');
      note.hidden = false;
      note.dataset.reason = 'no-model';
      note.innerHTML =
        '<b>No diffusion model is installed</b>, so the editor opened <code>classical-fill</code> (inpainting without a model). ' +
        'To inpaint with SDXL, drop a <code>.safetensors</code> checkpoint (e.g. an SDXL inpainting model from A1111, ComfyUI or Civitai) into ' +
        '<code>models/checkpoints/</code> (<code>MASKFLOW_MODELS_DIR</code>, default <code>./models</code>), or pull one from the Hugging Face Hub or a link ' +
        '<button type="button" class="pull" id="btn-note-pull">Pull a model…</button> ' +
        '(or <code>npx maskflow models pull &lt;repo&gt;</code>); then open <code>sdxl-inpaint</code>. ' +
        '<button type="button" class="close" aria-label="Dismiss">×</button>';
      note.querySelector('button.close')!.addEventListener('click', () => (note.hidden = true));
      $('btn-note-pull').addEventListener('click', () => modelsPanel.focusPull(SUGGESTED_MODEL));
    }
  }
  try {
    await open(initial);
  } catch (err) {
    load(EMPTY, '');
    status(`Could not open ${initial}: ${(err as Error).message}`, 'error');
  }
  Object.assign(window, { maskflow: { editor, runner, open, save, workflow: () => editor.toWorkflow(), ready: true } });
}

main().catch((err: Error) => {
  status(`The editor could not start: ${err.message}`, 'error');
});
