// Image/mask stage at 1024x1024: decode + mask prep + conversion to model tensors
// (goal: under 30 ms together), composite, and encode. Medians over several runs.
import os from 'node:os';
import sharp from 'sharp';
import { compositeImage } from '../server/image/composite.js';
import { fillMasked } from '../server/image/fill.js';
import { decodeImage, decodeMask, encodeImage } from '../server/image/io.js';
import { prepareMask } from '../server/image/mask.js';
import { resizeImage } from '../server/image/resize.js';
import { imageToTensor, maskToTensor } from '../server/image/tensor.js';
import type { RgbImage } from '../server/image/types.js';

const SIZE = 1024;
const RUNS = 9;

function photoLike(size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  let s = 12345;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const n = (s >>> 28) - 8;
      const i = (y * size + x) * 3;
      data[i] = 100 + 60 * Math.sin(x / 90) + n;
      data[i + 1] = 120 + 50 * Math.cos(y / 70) + n;
      data[i + 2] = 90 + 40 * Math.sin((x + y) / 120) + n;
    }
  }
  return { width: size, height: size, data };
}

/**
 * Median wall time, and median process CPU time (all threads: sharp's libvips workers
 * count too). On a busy machine CPU time is the steadier figure of the two.
 */
interface Timing {
  wall: number;
  cpu: number;
}

async function median(fn: () => Promise<unknown> | unknown, runs = RUNS): Promise<Timing> {
  await fn(); // warm-up
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const mid = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  return { wall: mid(walls), cpu: mid(cpus) };
}

const ms = (t: Timing | number) =>
  typeof t === 'number' ? `${t.toFixed(1).padStart(7)} ms` : `${t.wall.toFixed(1).padStart(7)} ms  (cpu ${t.cpu.toFixed(1)} ms)`;
const sum = (...ts: Timing[]): Timing => ({ wall: ts.reduce((a, t) => a + t.wall, 0), cpu: ts.reduce((a, t) => a + t.cpu, 0) });

export default async function bench(print: (line: string) => void): Promise<void> {
  const img = photoLike(SIZE);
  const maskGrey = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) if (Math.hypot(x - 512, y - 480) < 200) maskGrey[y * SIZE + x] = 255;
  const imagePng = await sharp(img.data, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
  const imageJpeg = await sharp(img.data, { raw: { width: SIZE, height: SIZE, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  const maskPng = await sharp(maskGrey, { raw: { width: SIZE, height: SIZE, channels: 1 } }).png().toBuffer();
  const limits = { maxPixels: 64 * 1024 * 1024 };
  const prep = { threshold: 0.5, grow: 8, feather: 16, invert: false };

  const decPng = await median(() => decodeImage(imagePng, limits));
  const decJpeg = await median(() => decodeImage(imageJpeg, limits));
  const decMask = await median(() => decodeMask(maskPng, limits));
  const mask = await decodeMask(maskPng, limits);
  const prepMs = await median(() => prepareMask(mask, prep));
  const { hard, soft } = prepareMask(mask, prep);
  const toTensor = await median(() => {
    imageToTensor([img]);
    maskToTensor(hard, 0.5);
  });
  const reused = new Float32Array(3 * SIZE * SIZE);
  const toTensorReused = await median(() => {
    imageToTensor([img], reused);
    maskToTensor(hard, 0.5);
  });
  const stage = await median(async () => {
    const [{ image }, m] = await Promise.all([decodeImage(imageJpeg, limits), decodeMask(maskPng, limits)]);
    const p = prepareMask(m, prep);
    imageToTensor([image], reused);
    maskToTensor(p.hard, 0.5);
  });
  const load = os.loadavg()[0]!.toFixed(1);
  print(`image + mask ${SIZE}x${SIZE}, median of ${RUNS} runs (load average ${load} on ${os.cpus().length} cores)`);
  print(`  decode image (PNG)            ${ms(decPng)}`);
  print(`  decode image (JPEG q90)       ${ms(decJpeg)}`);
  print(`  decode mask (PNG)             ${ms(decMask)}`);
  print(`  prepare mask (grow 8, feather 16) ${ms(prepMs)}`);
  print(`  to model tensors (NCHW f32)   ${ms(toTensor)}`);
  print(`  ... reusing the tensor buffer ${ms(toTensorReused)}`);
  print(`  sum (JPEG image)              ${ms(sum(decJpeg, decMask, prepMs, toTensorReused))}   goal < 30 ms`);
  print(`  whole stage, decodes in parallel ${ms(stage)}`);

  // Fresh large buffers cost page faults; on some machines (sandboxed VMs) that dominates.
  const alloc = await median(() => {
    const x = new Float32Array(3 * SIZE * SIZE);
    for (let i = 0; i < x.length; i += 1024) x[i] = 1;
  });
  print(`  (allocate + touch 12 MB       ${ms(alloc)}${process.env.MALLOC_MMAP_THRESHOLD_ ? '' : '; if large, try MALLOC_MMAP_THRESHOLD_=134217728 MALLOC_TRIM_THRESHOLD_=1073741824'})`);

  const generated = photoLike(SIZE);
  generated.data.reverse();
  const half = await resizeImage(generated, 512, 512, 'exact');
  const comp = await median(() => compositeImage(img, generated, soft));
  const compMatch = await median(() => compositeImage(img, generated, soft, { colorMatch: true }));
  const compResize = await median(() => compositeImage(img, half, soft, { resize: (i, w, h) => resizeImage(i, w, h, 'exact') }));
  print(`  composite                     ${ms(comp)}`);
  print(`  composite + colour match      ${ms(compMatch)}`);
  print(`  composite, 512 -> 1024 lanczos ${ms(compResize)}`);

  const workflow = JSON.stringify({ version: 1, nodes: { a: { type: 'image/load-image', params: { url: 'x'.repeat(2000) } } } });
  const encPng = await median(() => encodeImage(img, { format: 'png', pngText: { workflow } }));
  const encJpeg = await median(() => encodeImage(img, { format: 'jpeg', quality: 90 }));
  const encWebp = await median(() => encodeImage(img, { format: 'webp', quality: 90 }));
  print(`  encode PNG (+ workflow chunk) ${ms(encPng)}`);
  print(`  encode JPEG q90               ${ms(encJpeg)}`);
  print(`  encode WebP q90               ${ms(encWebp)}`);

  const small = await resizeImage(img, 512, 512, 'exact');
  const smallMask = prepareMask({ width: SIZE, height: SIZE, data: mask.data }, prep).hard;
  const { resizeMask } = await import('../server/image/mask.js');
  const m512 = resizeMask(smallMask, 512, 512);
  for (const method of ['blur', 'telea', 'patchmatch'] as const) {
    const t = await median(() => fillMasked(small, m512, method, { seed: 1 }), 3);
    print(`  fill ${method.padEnd(10)} (512x512, hole ~15%, 3 runs) ${ms(t)}`);
  }
}
