// Image and mask operations that ComfyUI's core mask/image classes need and maskflow's own
// nodes did not have: channel <-> mask, edge feathering, outpaint padding, masked paste.
// Each follows ComfyUI's arithmetic (nodes_mask.py, nodes.py) on maskflow's 8-bit images.
import { resizeMask } from './mask.js';
import { resizeImage } from './resize.js';
import type { Mask, RgbImage } from './types.js';

export type Channel = 'red' | 'green' | 'blue';
const CHANNEL_INDEX: Record<Channel, number> = { red: 0, green: 1, blue: 2 };

/** One colour channel as a mask (value / 255), as ComfyUI's ImageToMask. */
export function maskFromChannel(image: RgbImage, channel: Channel): Mask {
  const c = CHANNEL_INDEX[channel];
  const out = new Float32Array(image.width * image.height);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i * 3 + c]! / 255;
  return { width: image.width, height: image.height, data: out };
}

/** A mask as a grey image (MaskToImage). */
export function maskToImage(mask: Mask): RgbImage {
  const out = new Uint8Array(mask.width * mask.height * 3);
  for (let i = 0; i < mask.data.length; i++) {
    const v = Math.round(Math.min(1, Math.max(0, mask.data[i]!)) * 255);
    out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = v;
  }
  return { width: mask.width, height: mask.height, data: out };
}

export interface Edges {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * ComfyUI's FeatherMask: the first `left` columns are scaled by (x+1)/left, likewise from the
 * other edges (a linear ramp in from the image border, not around the masked shape).
 */
export function featherEdges(mask: Mask, e: Edges): Mask {
  const { width: w, height: h } = mask;
  const out = mask.data.slice();
  const left = Math.min(e.left, w);
  const right = Math.min(e.right, w);
  const top = Math.min(e.top, h);
  const bottom = Math.min(e.bottom, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < left; x++) out[y * w + x]! *= (x + 1) / left;
    for (let x = 0; x < right; x++) out[y * w + (w - 1 - x)]! *= (x + 1) / right;
  }
  for (let y = 0; y < top; y++) for (let x = 0; x < w; x++) out[y * w + x]! *= (y + 1) / top;
  for (let y = 0; y < bottom; y++) for (let x = 0; x < w; x++) out[(h - 1 - y) * w + x]! *= (y + 1) / bottom;
  return { width: w, height: h, data: out };
}

/** Grey of the padding (ComfyUI fills with 0.5). */
const PAD_GREY = 128;

/**
 * ComfyUI's ImagePadForOutpaint: grey border around the image and a mask that is 1 on the
 * border, 0 on the image, with a quadratic ramp of `feathering` px inside the padded sides.
 */
export function padForOutpaint(image: RgbImage, e: Edges, feathering: number): { image: RgbImage; mask: Mask } {
  const w = image.width + e.left + e.right;
  const h = image.height + e.top + e.bottom;
  const data = new Uint8Array(w * h * 3).fill(PAD_GREY);
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), ((y + e.top) * w + e.left) * 3);
  }
  const mask = new Float32Array(w * h).fill(1);
  const ih = image.height;
  const iw = image.width;
  const feather = feathering > 0 && feathering * 2 < ih && feathering * 2 < iw;
  for (let i = 0; i < ih; i++) {
    for (let j = 0; j < iw; j++) {
      let v = 0;
      if (feather) {
        const d = Math.min(e.top ? i : ih, e.bottom ? ih - i : ih, e.left ? j : iw, e.right ? iw - j : iw);
        if (d < feathering) v = ((feathering - d) / feathering) ** 2;
      }
      mask[(i + e.top) * w + j + e.left] = v;
    }
  }
  return { image: { width: w, height: h, data }, mask: { width: w, height: h, data: mask } };
}

/**
 * ComfyUI's ImageCompositeMasked: `source` pasted into `destination` at (x, y) through the
 * mask (resized to the source; none = opaque); with resizeSource the source is first
 * stretched to the destination size. Parts outside the destination are cut off.
 */
export async function pasteImage(destination: RgbImage, source: RgbImage, x: number, y: number, mask: Mask | undefined, resizeSource: boolean): Promise<RgbImage> {
  const src = resizeSource ? await resizeImage(source, destination.width, destination.height) : source;
  const m = mask ? resizeMask(mask, src.width, src.height) : undefined;
  const out = destination.data.slice();
  const w = Math.min(src.width, destination.width - x);
  const h = Math.min(src.height, destination.height - y);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const a = m ? Math.min(1, Math.max(0, m.data[r * src.width + c]!)) : 1;
      const d = ((r + y) * destination.width + c + x) * 3;
      const s = (r * src.width + c) * 3;
      for (let k = 0; k < 3; k++) out[d + k] = Math.round(a * src.data[s + k]! + (1 - a) * out[d + k]!);
    }
  }
  return { width: destination.width, height: destination.height, data: out };
}
