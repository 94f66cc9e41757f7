// Runs the editor's workflow over the websocket and shows what happens: queue position,
// the running node, per-node progress and previews, outputs on output nodes and in the
// gallery, errors on the offending nodes, cancel.
import type { GraphEditor } from './graph/editor.js';
import { imageUrls } from './results.js';
import { RunSocket, socketUrl, type PreviewFrame, type ServerMessage } from './socket.js';
import type { Problem, RunErrorInfo } from './types.js';

export interface RunUi {
  status(text: string, kind?: 'info' | 'busy' | 'error' | 'ok'): void;
  running(active: boolean): void;
  problems(problems: Problem[]): void;
  gallery(images: { url: string; nodeId: string; runId: string }[]): void;
}

export class RunController {
  private readonly socket: RunSocket;
  private ref?: string;
  private runId?: string;
  private currentNode?: string;
  private previewUrls: string[] = [];

  constructor(
    private readonly editor: GraphEditor,
    private readonly ui: RunUi,
  ) {
    this.socket = new RunSocket(socketUrl(), {
      message: (m) => this.onMessage(m),
      preview: (f) => this.onPreview(f),
      status: (up) => {
        if (!up && this.ref) this.ui.status('Connection lost; reconnecting…', 'error');
        // Back online during a run: follow it again.
        if (up && this.ref && this.runId) this.socket.subscribe(this.runId);
      },
    });
  }

  get active(): boolean {
    return this.ref !== undefined;
  }

  run(): void {
    if (this.active) return;
    this.editor.randomizeSeeds();
    this.editor.resetRunState();
    this.ui.problems([]);
    const wf = this.editor.toWorkflow();
    this.runId = undefined;
    this.ref = this.socket.run(wf);
    this.ui.running(true);
    this.ui.status('Submitting…', 'busy');
  }

  cancel(): void {
    if (this.runId) this.socket.cancel(this.runId);
    this.ui.status('Cancelling…', 'busy');
  }

  private mine(m: { runId?: string; ref?: string }): boolean {
    if (!this.ref) return false;
    if (m.ref !== undefined) return m.ref === this.ref;
    if (m.runId !== undefined && this.runId === undefined) return true;
    return m.runId === this.runId;
  }

  private onMessage(m: ServerMessage): void {
    if (!this.mine(m as { runId?: string; ref?: string })) return;
    if ('runId' in m && m.runId) this.runId = m.runId;
    switch (m.type) {
      case 'run:queued':
        this.ui.status(m.position > 0 ? `Queued: position ${m.position}` : 'Queued: next', 'busy');
        break;
      case 'run:start':
        this.ui.status('Running…', 'busy');
        for (const id of m.nodes ?? []) this.editor.setNodeView(id, { state: 'queued' });
        break;
      case 'node:start':
        this.currentNode = m.nodeId;
        this.editor.setNodeView(m.nodeId, { state: 'running', progress: 0 });
        this.ui.status(`Running ${this.label(m.nodeId)}…`, 'busy');
        break;
      case 'node:cached':
        this.editor.setNodeView(m.nodeId, { state: 'cached' });
        break;
      case 'node:progress': {
        this.editor.setNodeView(m.nodeId, { state: 'running', progress: m.total > 0 ? m.done / m.total : undefined });
        this.ui.status(`Running ${this.label(m.nodeId)}: ${m.done}/${m.total}`, 'busy');
        break;
      }
      case 'node:done': {
        this.editor.setNodeView(m.nodeId, { state: 'done', progress: undefined, ms: m.ms });
        const urls = m.ui ? imageUrls(m.ui) : [];
        if (urls.length) this.showImages(m.nodeId, urls);
        break;
      }
      case 'run:done': {
        const images: { url: string; nodeId: string; runId: string }[] = [];
        for (const [nodeId, result] of Object.entries(m.outputs ?? {})) {
          const urls = imageUrls(result);
          if (urls.length) this.showImages(nodeId, urls);
          for (const url of urls) images.push({ url, nodeId, runId: m.runId });
        }
        this.ui.gallery(images);
        const ms = m.timings?.total;
        this.finish(`Done${ms !== undefined ? ` in ${(ms / 1000).toFixed(1)} s` : ''}${m.cached?.length ? ` (${m.cached.length} cached)` : ''}`, 'ok');
        break;
      }
      case 'run:cancelled':
        if (m.nodeId) this.editor.setNodeView(m.nodeId, { state: 'idle', progress: undefined });
        this.finish('Cancelled', 'info');
        break;
      case 'run:error':
      case 'error':
        this.showError(m.error);
        break;
    }
  }

  private showError(error: RunErrorInfo): void {
    const problems: Problem[] = error.problems?.length
      ? error.problems
      : [{ nodeId: error.nodeId ?? this.currentNode, path: error.input ? `inputs.${error.input}` : error.param ? `params.${error.param}` : '', code: error.code, message: error.message }];
    for (const n of this.editor.nodes()) if (n.view.state === 'running' || n.view.state === 'queued') n.setView({ state: 'idle', progress: undefined });
    const general = this.editor.showProblems(problems);
    this.ui.problems(problems);
    const first = problems.find((p) => p.nodeId) ?? general[0];
    this.finish(error.problems?.length ? `Workflow is invalid: ${problems.length} problem${problems.length > 1 ? 's' : ''}` : `Failed: ${first?.message ?? error.message}`, 'error');
  }

  private onPreview(f: PreviewFrame): void {
    if (!this.ref) return;
    if (f.runId && this.runId && f.runId !== this.runId) return;
    const nodeId = f.nodeId ?? this.currentNode;
    if (!nodeId) return;
    const url = URL.createObjectURL(f.blob);
    this.previewUrls.push(url);
    if (this.previewUrls.length > 8) URL.revokeObjectURL(this.previewUrls.shift()!);
    this.showImages(nodeId, [url]);
  }

  private showImages(nodeId: string, urls: string[]): void {
    const images = urls.map((u) => {
      const img = new Image();
      img.onload = () => this.editor.canvas.setDirty(true, true);
      img.src = u;
      return img;
    });
    this.editor.setNodeView(nodeId, { images });
  }

  private finish(text: string, kind: 'info' | 'error' | 'ok'): void {
    this.ref = undefined;
    this.currentNode = undefined;
    this.ui.running(false);
    this.ui.status(text, kind);
  }

  private label(nodeId: string): string {
    const n = this.editor.node(nodeId);
    return n ? `${n.title} (${nodeId})` : nodeId;
  }
}
