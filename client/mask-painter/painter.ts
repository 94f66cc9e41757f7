// The mask painter: a full-screen dialog over the image of a load-image node. Pointer events
// cover mouse, touch and pen alike (pen pressure scales the brush). Resolves with the mask as a
// grayscale PNG (white = repaint) the size of the image, or undefined when cancelled.
import { clear, createMask, invert, MaskHistory, strokeSegment, type Brush, type MaskBuffer, type Rect } from './brush.js';

export interface PainterOptions {
  imageUrl: string;
  /** An existing mask to start from (its URL). */
  maskUrl?: string;
}

export interface PainterResult {
  png: Blob;
  /** Share of pixels the pipeline will repaint. */
  coverage: number;
}

export async function openMaskPainter(opts: PainterOptions): Promise<PainterResult | undefined> {
  const image = await loadImage(opts.imageUrl);
  const mask = createMask(image.naturalWidth, image.naturalHeight);
  if (opts.maskUrl) await loadMaskInto(mask, opts.maskUrl).catch(() => undefined);
  return new Promise((resolve) => new Painter(image, mask, resolve).show());
}

class Painter {
  private readonly root = el('div', 'mf-painter');
  private readonly view = el('canvas', 'mf-painter-canvas') as HTMLCanvasElement;
  private readonly overlay = document.createElement('canvas');
  private readonly overlayData: ImageData;
  private readonly history = new MaskHistory();
  private brush: Brush = { radius: 32, hardness: 0.7, mode: 'paint' };
  private showOverlay = true;
  private last?: [number, number];
  private cursor?: [number, number];
  private activePointer?: number;
  private readonly keyHandler = (e: KeyboardEvent) => this.onKey(e);
  private readonly fitHandler = () => this.fit();
  private modeButton?: HTMLButtonElement;

  constructor(
    private readonly image: HTMLImageElement,
    private readonly mask: MaskBuffer,
    private readonly done: (r: PainterResult | undefined) => void,
  ) {
    this.view.width = this.overlay.width = mask.width;
    this.view.height = this.overlay.height = mask.height;
    this.overlayData = new ImageData(mask.width, mask.height);
    this.brush.radius = Math.max(4, Math.round(Math.min(mask.width, mask.height) / 16));
  }

  show(): void {
    const bar = el('div', 'mf-painter-bar');
    const mode = button('Erase', 'mf-mode', () => this.toggleMode());
    mode.title = 'Switch between painting and erasing (E)';
    this.modeButton = mode;
    const size = slider('Size', 1, Math.max(64, Math.round(Math.max(this.mask.width, this.mask.height) / 4)), this.brush.radius, 1, (v) => (this.brush.radius = v));
    const hardness = slider('Hardness', 0, 1, this.brush.hardness, 0.05, (v) => (this.brush.hardness = v));
    const overlay = button('Hide mask', 'mf-overlay', () => {
      this.showOverlay = !this.showOverlay;
      overlay.textContent = this.showOverlay ? 'Hide mask' : 'Show mask';
      this.render();
    });
    bar.append(
      mode,
      size.wrap,
      hardness.wrap,
      button('Undo', 'mf-undo', () => this.undo()),
      button('Invert', 'mf-invert', () => this.edit(() => invert(this.mask))),
      button('Clear', 'mf-clear', () => this.edit(() => clear(this.mask))),
      overlay,
      el('span', 'mf-spacer'),
      button('Cancel', 'mf-cancel', () => this.close(undefined)),
      button('Save mask', 'mf-save primary', () => void this.save()),
    );
    const stage = el('div', 'mf-painter-stage');
    stage.append(this.view);
    this.root.append(bar, stage);
    document.body.append(this.root);
    this.bindPointer();
    window.addEventListener('keydown', this.keyHandler, true);
    window.addEventListener('resize', this.fitHandler);
    this.fit();
    this.refreshOverlay({ x: 0, y: 0, w: this.mask.width, h: this.mask.height });
    this.render();
  }

  private bindPointer(): void {
    const v = this.view;
    v.addEventListener('pointerdown', (e) => {
      if (this.activePointer !== undefined || (e.pointerType === 'mouse' && e.button !== 0)) return;
      this.activePointer = e.pointerId;
      v.setPointerCapture(e.pointerId);
      this.history.push(this.mask);
      const p = this.toImage(e);
      this.last = p;
      this.paint(p, p, e);
      e.preventDefault();
    });
    v.addEventListener('pointermove', (e) => {
      this.cursor = this.toImage(e);
      if (e.pointerId === this.activePointer && this.last) {
        // Coalesced events keep fast strokes smooth.
        const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
        for (const ce of events.length ? events : [e]) {
          const p = this.toImage(ce);
          this.paint(this.last, p, ce);
          this.last = p;
        }
      } else this.render();
    });
    const end = (e: PointerEvent) => {
      if (e.pointerId !== this.activePointer) return;
      this.activePointer = undefined;
      this.last = undefined;
      this.render();
    };
    v.addEventListener('pointerup', end);
    v.addEventListener('pointercancel', end);
    v.addEventListener('pointerleave', () => {
      this.cursor = undefined;
      this.render();
    });
  }

  private paint(from: [number, number], to: [number, number], e: PointerEvent): void {
    const pressure = e.pointerType === 'pen' && e.pressure > 0 ? e.pressure : 1;
    const brush = { ...this.brush, radius: Math.max(0.5, this.brush.radius * pressure) };
    const box = strokeSegment(this.mask, from, to, brush);
    if (box) this.refreshOverlay(box);
    this.render();
  }

  private edit(fn: () => void): void {
    this.history.push(this.mask);
    fn();
    this.refreshOverlay({ x: 0, y: 0, w: this.mask.width, h: this.mask.height });
    this.render();
  }

  private undo(): void {
    if (this.history.undo(this.mask)) {
      this.refreshOverlay({ x: 0, y: 0, w: this.mask.width, h: this.mask.height });
      this.render();
    }
  }

  private toggleMode(): void {
    this.brush.mode = this.brush.mode === 'paint' ? 'erase' : 'paint';
    if (this.modeButton) {
      this.modeButton.textContent = this.brush.mode === 'paint' ? 'Erase' : 'Paint';
      this.modeButton.classList.toggle('active', this.brush.mode === 'erase');
    }
    this.render();
  }

  private onKey(e: KeyboardEvent): void {
    const k = e.key.toLowerCase();
    if ((e.ctrlKey || e.metaKey) && k === 'z') this.undo();
    else if (k === 'escape') this.close(undefined);
    else if (k === 'e') this.toggleMode();
    else if (k === '[') this.brush.radius = Math.max(1, this.brush.radius - 2);
    else if (k === ']') this.brush.radius += 2;
    else return;
    e.preventDefault();
    e.stopPropagation();
    this.render();
  }

  /** Rebuilds the red overlay pixels of a region from the mask. */
  private refreshOverlay(r: Rect): void {
    const { data } = this.overlayData;
    const w = this.mask.width;
    for (let y = r.y; y < r.y + r.h; y++) {
      for (let x = r.x; x < r.x + r.w; x++) {
        const m = this.mask.data[y * w + x]!;
        const o = (y * w + x) * 4;
        data[o] = 255;
        data[o + 1] = 40;
        data[o + 2] = 60;
        data[o + 3] = m;
      }
    }
    this.overlay.getContext('2d')!.putImageData(this.overlayData, 0, 0, r.x, r.y, r.w, r.h);
  }

  private render(): void {
    const ctx = this.view.getContext('2d')!;
    ctx.clearRect(0, 0, this.view.width, this.view.height);
    ctx.drawImage(this.image, 0, 0);
    if (this.showOverlay) {
      ctx.globalAlpha = 0.55;
      ctx.drawImage(this.overlay, 0, 0);
      ctx.globalAlpha = 1;
    }
    if (this.cursor) {
      const scale = this.view.width / Math.max(1, this.view.getBoundingClientRect().width);
      ctx.lineWidth = Math.max(1, scale * 1.5);
      ctx.strokeStyle = this.brush.mode === 'paint' ? '#fff' : '#4fc3f7';
      ctx.beginPath();
      ctx.arc(this.cursor[0], this.cursor[1], this.brush.radius, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  private toImage(e: PointerEvent): [number, number] {
    const r = this.view.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * this.view.width, ((e.clientY - r.top) / r.height) * this.view.height];
  }

  private async save(): Promise<void> {
    const c = document.createElement('canvas');
    c.width = this.mask.width;
    c.height = this.mask.height;
    const img = new ImageData(c.width, c.height);
    let painted = 0;
    for (let i = 0; i < this.mask.data.length; i++) {
      const v = this.mask.data[i]!;
      if (v >= 128) painted++;
      img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = v;
      img.data[i * 4 + 3] = 255;
    }
    c.getContext('2d')!.putImageData(img, 0, 0);
    const png = await new Promise<Blob>((res, rej) => c.toBlob((b) => (b ? res(b) : rej(new Error('could not encode the mask'))), 'image/png'));
    this.close({ png, coverage: painted / this.mask.data.length });
  }

  /** Scales the view to fill the stage (small images grow, large ones shrink). */
  private fit(): void {
    const stage = this.view.parentElement!.getBoundingClientRect();
    const scale = Math.min((stage.width - 24) / this.mask.width, (stage.height - 24) / this.mask.height);
    this.view.style.width = `${Math.max(1, Math.floor(this.mask.width * scale))}px`;
    this.view.style.height = `${Math.max(1, Math.floor(this.mask.height * scale))}px`;
  }

  private close(result: PainterResult | undefined): void {
    window.removeEventListener('keydown', this.keyHandler, true);
    window.removeEventListener('resize', this.fitHandler);
    this.root.remove();
    this.done(result);
  }
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.crossOrigin = 'anonymous';
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`could not load the image ${url}`));
    img.src = url;
  });
}

async function loadMaskInto(mask: MaskBuffer, url: string): Promise<void> {
  const img = await loadImage(url);
  const c = document.createElement('canvas');
  c.width = mask.width;
  c.height = mask.height;
  const ctx = c.getContext('2d')!;
  ctx.drawImage(img, 0, 0, mask.width, mask.height);
  const data = ctx.getImageData(0, 0, mask.width, mask.height).data;
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = data[i * 4]!;
}

function el(tag: string, cls: string): HTMLElement {
  const e = document.createElement(tag);
  e.className = cls;
  return e;
}

function button(label: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', cls) as HTMLButtonElement;
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

function slider(label: string, min: number, max: number, value: number, step: number, onInput: (v: number) => void) {
  const wrap = el('label', 'mf-slider');
  const input = document.createElement('input');
  Object.assign(input, { type: 'range', min: String(min), max: String(max), step: String(step), value: String(value) });
  input.setAttribute('aria-label', label);
  input.addEventListener('input', () => onInput(Number(input.value)));
  wrap.append(document.createTextNode(label), input);
  return { wrap, input };
}

