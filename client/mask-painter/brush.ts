// Mask painting on a plain 8-bit mask (255 = repaint): round brush with hardness, strokes as
// stamped segments, invert. Pure, so it is unit-tested without a browser.

export interface Brush {
  /** Radius in mask pixels. */
  radius: number;
  /** 0 = soft edge over the whole radius, 1 = hard edge. */
  hardness: number;
  mode: 'paint' | 'erase';
}

export interface MaskBuffer {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export function createMask(width: number, height: number): MaskBuffer {
  return { width, height, data: new Uint8Array(width * height) };
}

/** Brush coverage at distance d from the centre: 1 inside the hard core, smooth falloff to 0 at the radius. */
export function coverage(d: number, brush: Brush): number {
  const r = Math.max(0.5, brush.radius);
  if (d >= r) return 0;
  const core = r * Math.min(1, Math.max(0, brush.hardness));
  if (d <= core) return 1;
  const t = (d - core) / (r - core);
  return 1 - t * t * (3 - 2 * t);
}

/** Stamps one dab; returns the touched rectangle (or undefined when off the mask). */
export function stamp(mask: MaskBuffer, cx: number, cy: number, brush: Brush): Rect | undefined {
  const r = Math.max(0.5, brush.radius);
  const x0 = Math.max(0, Math.floor(cx - r));
  const y0 = Math.max(0, Math.floor(cy - r));
  const x1 = Math.min(mask.width - 1, Math.ceil(cx + r));
  const y1 = Math.min(mask.height - 1, Math.ceil(cy + r));
  if (x0 > x1 || y0 > y1) return undefined;
  const { data, width } = mask;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const c = coverage(Math.hypot(x + 0.5 - cx, y + 0.5 - cy), brush);
      if (c <= 0) continue;
      const i = y * width + x;
      const v = Math.round(c * 255);
      data[i] = brush.mode === 'paint' ? Math.max(data[i]!, v) : Math.min(data[i]!, 255 - v);
    }
  }
  return { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** Stamps dabs along a segment, spaced so the stroke has no gaps. */
export function strokeSegment(mask: MaskBuffer, from: [number, number], to: [number, number], brush: Brush): Rect | undefined {
  const dist = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const spacing = Math.max(0.5, brush.radius * 0.25);
  const n = Math.max(1, Math.ceil(dist / spacing));
  let box: Rect | undefined;
  for (let i = dist === 0 ? n : 1; i <= n; i++) {
    const t = i / n;
    box = union(box, stamp(mask, from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t, brush));
  }
  return box;
}

export function invert(mask: MaskBuffer): void {
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = 255 - mask.data[i]!;
}

export function clear(mask: MaskBuffer): void {
  mask.data.fill(0);
}

/** Share of pixels at or above half (what the pipeline repaints after binarising at 0.5). */
export function coverageRatio(mask: MaskBuffer): number {
  let n = 0;
  for (const v of mask.data) if (v >= 128) n++;
  return n / mask.data.length;
}

export function union(a: Rect | undefined, b: Rect | undefined): Rect | undefined {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

/** Undo history of mask snapshots, bounded. */
export class MaskHistory {
  private stack: Uint8Array[] = [];
  constructor(private readonly limit = 30) {}

  push(mask: MaskBuffer): void {
    this.stack.push(mask.data.slice());
    if (this.stack.length > this.limit) this.stack.shift();
  }

  /** Restores the last snapshot; false when there is none. */
  undo(mask: MaskBuffer): boolean {
    const prev = this.stack.pop();
    if (!prev) return false;
    mask.data.set(prev);
    return true;
  }

  get size(): number {
    return this.stack.length;
  }
}
