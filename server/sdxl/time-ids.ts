// SDXL micro-conditioning time ids, as diffusers' _get_add_time_ids.
import type { SizeConditioning } from './types.js';

/**
 * Width 6: [orig_h, orig_w, crop_top, crop_left, target_h, target_w] (base / inpaint models).
 * Width 5: [orig_h, orig_w, crop_top, crop_left, aesthetic_score] (refiner-style models;
 * diffusers' defaults are 6.0 for the positive row and 2.5 for the negative row).
 */
export function timeIds(width: number, height: number, idWidth: number, size: SizeConditioning | undefined, negative: boolean): number[] {
  const orig = size?.originalSize ?? [height, width];
  const crop = size?.cropTopLeft ?? [0, 0];
  const target = size?.targetSize ?? [height, width];
  if (idWidth === 5) {
    const score = negative ? size?.negativeAestheticScore ?? 2.5 : size?.aestheticScore ?? 6.0;
    return [orig[0], orig[1], crop[0], crop[1], score];
  }
  if (idWidth !== 6) throw new Error(`unsupported time-id width ${idWidth}`);
  return [orig[0], orig[1], crop[0], crop[1], target[0], target[1]];
}
