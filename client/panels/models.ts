// The Models panel: installed models (format, kind, size, where they came from) with delete,
// and a pull form (Hub repo id or https URL) whose progress arrives over the websocket as
// pull:* events (docs/models.md).
import { api, type InstalledModel } from '../api.js';
import { RunSocket, socketUrl, type PullProgress, type ServerMessage } from '../socket.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export interface ModelsPanelUi {
  status(text: string, kind?: 'info' | 'busy' | 'error' | 'ok'): void;
  /** The installed models changed (a pull finished, a model was deleted). */
  changed?(models: InstalledModel[]): void;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "unet/x.safetensors 3/18 · 1.2 GiB / 6.5 GiB" */
export function describeProgress(p: PullProgress): string {
  if (p.phase === 'resolving') return 'Resolving files…';
  if (p.phase === 'installing') return 'Verified; installing…';
  const file = p.file ? `${p.file} (${p.fileIndex + 1}/${p.fileCount}) · ` : '';
  return `${file}${formatBytes(p.bytes)}${p.total !== undefined ? ` / ${formatBytes(p.total)}` : ''}`;
}

export class ModelsPanel {
  private socket?: RunSocket;
  private pullId?: string;
  private connectedBefore = false;

  constructor(private readonly ui: ModelsPanelUi) {
    $('models-pull-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.pull();
    });
    $('btn-pull-cancel').addEventListener('click', () => this.pullId && void api.cancelPull(this.pullId).catch(() => undefined));
  }

  /** Opens the side panel on the pull form, optionally with a suggested source. */
  focusPull(suggestion?: string): void {
    document.body.classList.add('sidebar-open');
    const input = $<HTMLInputElement>('model-source');
    if (suggestion && !input.value) input.value = suggestion;
    $('models-panel').scrollIntoView({ block: 'start' });
    input.focus();
  }

  async refresh(): Promise<InstalledModel[]> {
    const list = $('models-list');
    let models: InstalledModel[];
    try {
      models = await api.listModels();
    } catch (err) {
      list.replaceChildren(text('li', 'hint', `Could not list models: ${(err as Error).message}`));
      return [];
    }
    list.replaceChildren();
    if (!models.length) list.append(text('li', 'hint', 'No model installed. Pull one below.'));
    for (const m of models) {
      const li = document.createElement('li');
      li.dataset.model = m.name;
      const from = m.source ? (m.source.type === 'hub' ? `${m.source.repo}@${m.source.commit.slice(0, 7)}` : m.source.url) : 'added by hand';
      const label = text('span', 'model', `${m.name}`);
      label.title = `${m.format}${m.kind ? `, ${m.kind}` : ''}, ${formatBytes(m.size)}; ${from}${m.complete ? '' : '; incomplete'}`;
      const meta = text('span', 'meta', `${m.format}${m.kind ? ` · ${m.kind}` : ''} · ${formatBytes(m.size)}`);
      const del = document.createElement('button');
      del.type = 'button';
      del.textContent = '×';
      del.title = `Delete ${m.name}`;
      del.className = 'delete-model';
      del.addEventListener('click', () => void this.remove(m.name));
      li.append(label, meta, del);
      list.append(li);
    }
    return models;
  }

  private async remove(name: string): Promise<void> {
    if (!confirm(`Delete the model "${name}" from the server's disk?`)) return;
    try {
      await api.deleteModel(name);
      this.ui.status(`Deleted model ${name}`, 'ok');
    } catch (err) {
      this.ui.status(`Not deleted: ${(err as Error).message}`, 'error');
    }
    this.ui.changed?.(await this.refresh());
  }

  private async pull(): Promise<void> {
    const source = $<HTMLInputElement>('model-source').value.trim();
    const name = $<HTMLInputElement>('model-name').value.trim();
    if (!source) return this.ui.status('Enter a Hugging Face repo id (owner/name) or an https URL', 'error');
    try {
      const job = await api.pullModel({ source, ...(name ? { name } : {}) });
      this.pullId = job.id;
      this.showProgress({ phase: 'resolving', fileIndex: 0, fileCount: 0, fileBytes: 0, bytes: 0 });
      this.ui.status(`Pulling ${source}…`, 'busy');
      this.socket ??= new RunSocket(socketUrl(), {
        message: (m) => this.onMessage(m),
        preview: () => undefined,
        // After a reconnect, follow the pull again (the server replays its end if it finished meanwhile).
        status: (up) => {
          if (up && this.connectedBefore && this.pullId) this.socket?.subscribe(this.pullId, false);
          if (up) this.connectedBefore = true;
        },
      });
      this.socket.subscribe(job.id, false);
    } catch (err) {
      this.ui.status(`Pull refused: ${(err as Error).message}`, 'error');
    }
  }

  private onMessage(m: ServerMessage): void {
    if (!('runId' in m) || m.runId !== this.pullId) return;
    if (m.type === 'pull:progress') this.showProgress(m.progress);
    else if (m.type === 'pull:done') this.finish(`${m.result.alreadyInstalled ? 'Already installed' : 'Installed'} ${m.result.name} (${m.result.format})`, 'ok');
    else if (m.type === 'pull:error') this.finish(`Pull failed: ${m.error.message}`, 'error');
    else if (m.type === 'pull:cancelled') this.finish('Pull cancelled', 'info');
  }

  private showProgress(p: PullProgress): void {
    const box = $('pull-progress-box');
    if (box.hidden) {
      box.hidden = false;
      box.scrollIntoView({ block: 'nearest' });
    }
    const bar = $<HTMLProgressElement>('pull-progress');
    if (p.total) {
      bar.max = p.total;
      bar.value = p.bytes;
    } else bar.removeAttribute('value');
    $('pull-progress-text').textContent = describeProgress(p);
    $<HTMLButtonElement>('btn-pull').disabled = true;
  }

  private finish(message: string, kind: 'ok' | 'error' | 'info'): void {
    this.pullId = undefined;
    $('pull-progress-box').hidden = true;
    $<HTMLButtonElement>('btn-pull').disabled = false;
    $('pull-result').textContent = message;
    $('pull-result').dataset.kind = kind;
    this.ui.status(message, kind);
    void this.refresh().then((models) => this.ui.changed?.(models));
  }
}

function text(tag: string, cls: string, content: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.textContent = content;
  return e;
}
