// Smooth fill of a hole from the colours around it.
import type { RgbImage } from './types.js';

/**
 * Pull-push (Gortler et al. 1996): average known colours down a pyramid, then
 * interpolate back up, so each hole pixel gets a smooth blend of the colours around it.
 */
export function fillPullPush(image: RgbImage, hole: Uint8Array): RgbImage {
  interface Level {
    w: number;
    h: number;
    c: Float32Array; // premultiplied colour sums / weight
    a: Float32Array; // weight in [0,1]
  }
  const { width, height } = image;
  const base: Level = { w: width, h: height, c: new Float32Array(width * height * 3), a: new Float32Array(width * height) };
  for (let i = 0; i < width * height; i++) {
    if (hole[i]) continue;
    base.a[i] = 1;
    for (let k = 0; k < 3; k++) base.c[i * 3 + k] = image.data[i * 3 + k]!;
  }
  const levels: Level[] = [base];
  while (levels[levels.length - 1]!.w > 1 || levels[levels.length - 1]!.h > 1) {
    const f = levels[levels.length - 1]!;
    const w = Math.max(1, Math.ceil(f.w / 2));
    const h = Math.max(1, Math.ceil(f.h / 2));
    const c = new Float32Array(w * h * 3);
    const a = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sa = 0;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const sx = Math.min(f.w - 1, 2 * x + dx);
            const sy = Math.min(f.h - 1, 2 * y + dy);
            const j = sy * f.w + sx;
            const wt = f.a[j]!;
            sa += wt;
            s0 += f.c[j * 3]! * wt;
            s1 += f.c[j * 3 + 1]! * wt;
            s2 += f.c[j * 3 + 2]! * wt;
          }
        }
        const i = y * w + x;
        if (sa > 0) {
          c[i * 3] = s0 / sa;
          c[i * 3 + 1] = s1 / sa;
          c[i * 3 + 2] = s2 / sa;
        }
        a[i] = Math.min(1, sa);
      }
    }
    levels.push({ w, h, c, a });
  }
  // Push: blend each level with the bilinear upsampling of the coarser one.
  for (let l = levels.length - 2; l >= 0; l--) {
    const f = levels[l]!;
    const g = levels[l + 1]!;
    for (let y = 0; y < f.h; y++) {
      const gy = Math.min(g.h - 1, Math.max(0, (y + 0.5) / 2 - 0.5));
      const y0 = Math.floor(gy);
      const y1 = Math.min(g.h - 1, y0 + 1);
      const fy = gy - y0;
      for (let x = 0; x < f.w; x++) {
        const i = y * f.w + x;
        const a = f.a[i]!;
        if (a >= 1) continue;
        const gx = Math.min(g.w - 1, Math.max(0, (x + 0.5) / 2 - 0.5));
        const x0 = Math.floor(gx);
        const x1 = Math.min(g.w - 1, x0 + 1);
        const fx = gx - x0;
        for (let k = 0; k < 3; k++) {
          const top = g.c[(y0 * g.w + x0) * 3 + k]! * (1 - fx) + g.c[(y0 * g.w + x1) * 3 + k]! * fx;
          const bot = g.c[(y1 * g.w + x0) * 3 + k]! * (1 - fx) + g.c[(y1 * g.w + x1) * 3 + k]! * fx;
          const up = top * (1 - fy) + bot * fy;
          f.c[i * 3 + k] = f.c[i * 3 + k]! * a + up * (1 - a);
        }
        f.a[i] = 1;
      }
    }
  }
  const out = image.data.slice();
  for (let i = 0; i < width * height; i++) {
    if (!hole[i]) continue;
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(Math.min(255, Math.max(0, base.c[i * 3 + k]!)));
  }
  return { width, height, data: out };
}
