import { describe, expect, it } from 'vitest';
import { clear, coverage, coverageRatio, createMask, invert, MaskHistory, stamp, strokeSegment } from '../../client/mask-painter/brush.js';

describe('mask brush', () => {
  it('has a hard core and a smooth falloff to the radius', () => {
    const hard = { radius: 10, hardness: 1, mode: 'paint' as const };
    const soft = { radius: 10, hardness: 0, mode: 'paint' as const };
    expect(coverage(9.9, hard)).toBe(1);
    expect(coverage(10, hard)).toBe(0);
    expect(coverage(0, soft)).toBe(1);
    expect(coverage(5, soft)).toBeCloseTo(0.5, 5);
    expect(coverage(2, soft)).toBeGreaterThan(coverage(8, soft));
  });

  it('paints a round dab and erases it again', () => {
    const m = createMask(40, 30);
    const box = stamp(m, 20, 15, { radius: 6, hardness: 1, mode: 'paint' })!;
    expect(box).toEqual({ x: 14, y: 9, w: 13, h: 13 });
    expect(m.data[15 * 40 + 20]).toBe(255);
    expect(m.data[15 * 40 + 25]).toBe(255);
    expect(m.data[15 * 40 + 27]).toBe(0);
    expect(m.data[9 * 40 + 14]).toBe(0); // corner of the box is outside the circle
    const painted = coverageRatio(m);
    expect(painted).toBeGreaterThan((Math.PI * 36 * 0.8) / 1200);
    expect(painted).toBeLessThan((Math.PI * 36 * 1.2) / 1200);
    stamp(m, 20, 15, { radius: 3, hardness: 1, mode: 'erase' });
    expect(m.data[15 * 40 + 20]).toBe(0);
    expect(m.data[15 * 40 + 25]).toBe(255);
  });

  it('strokes without gaps and clips at the edges', () => {
    const m = createMask(64, 16);
    const box = strokeSegment(m, [-10, 8], [80, 8], { radius: 2, hardness: 1, mode: 'paint' })!;
    expect(box.x).toBe(0);
    expect(box.x + box.w).toBe(64);
    for (let x = 0; x < 64; x++) expect(m.data[8 * 64 + x]).toBe(255);
    expect(m.data[2 * 64 + 30]).toBe(0);
  });

  it('inverts, clears and undoes', () => {
    const m = createMask(8, 8);
    const h = new MaskHistory(2);
    h.push(m);
    invert(m);
    expect(coverageRatio(m)).toBe(1);
    h.push(m);
    clear(m);
    expect(coverageRatio(m)).toBe(0);
    expect(h.undo(m)).toBe(true);
    expect(coverageRatio(m)).toBe(1);
    expect(h.undo(m)).toBe(true);
    expect(coverageRatio(m)).toBe(0);
    expect(h.undo(m)).toBe(false);
  });
});
