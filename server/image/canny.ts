// Canny edge detection as OpenCV's cv2.Canny(image, low, high) computes it (the call
// diffusers' and ComfyUI's ControlNet examples use): grayscale (BT.601 luma), 3×3 Sobel with
// reflect-101 borders, L1 gradient magnitude, non-maximum suppression in four directions,
// hysteresis between the two thresholds (8-connected). Output: 255 on edges, 0 elsewhere.
import type { RgbImage } from './types.js';

export function cannyEdges(image: RgbImage, low: number, high: number): Uint8Array {
  const { width: w, height: h, data } = image;
  const gray = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) gray[p] = Math.round(0.299 * data[p * 3]! + 0.587 * data[p * 3 + 1]! + 0.114 * data[p * 3 + 2]!);
  const refl = (i: number, n: number) => (i < 0 ? Math.min(-i, n - 1) : i >= n ? Math.max(2 * n - 2 - i, 0) : i);
  const at = (x: number, y: number) => gray[refl(y, h) * w + refl(x, w)]!;
  const gx = new Float32Array(w * h);
  const gy = new Float32Array(w * h);
  const mag = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const dx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const dy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      const p = y * w + x;
      gx[p] = dx;
      gy[p] = dy;
      mag[p] = Math.abs(dx) + Math.abs(dy);
    }
  // 0 = suppressed, 1 = weak candidate, 2 = strong edge.
  const state = new Uint8Array(w * h);
  const TAN22 = Math.tan(Math.PI / 8);
  const m = (x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : mag[y * w + x]!);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const v = mag[p]!;
      if (v <= low) continue;
      const ax = Math.abs(gx[p]!);
      const ay = Math.abs(gy[p]!);
      let a: number, b: number;
      if (ay <= ax * TAN22) [a, b] = [m(x - 1, y), m(x + 1, y)];
      else if (ay >= ax / TAN22) [a, b] = [m(x, y - 1), m(x, y + 1)];
      else if (gx[p]! * gy[p]! > 0) [a, b] = [m(x - 1, y - 1), m(x + 1, y + 1)];
      else [a, b] = [m(x + 1, y - 1), m(x - 1, y + 1)];
      // OpenCV keeps ties on one side only (> before, >= after), so a plateau gives one line.
      if (v > a && v >= b) state[p] = v > high ? 2 : 1;
    }
  const out = new Uint8Array(w * h);
  const stack: number[] = [];
  for (let p = 0; p < w * h; p++) if (state[p] === 2) stack.push(p);
  while (stack.length) {
    const p = stack.pop()!;
    if (out[p]) continue;
    out[p] = 255;
    const x = p % w;
    const y = (p - x) / w;
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
        const q = ny * w + nx;
        if (state[q] && !out[q]) stack.push(q);
      }
  }
  return out;
}
