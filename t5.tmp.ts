import sharp from 'sharp';
import { decodeImage } from './server/image/io.ts';
import { readFileSync } from 'node:fs';
import { inpaintTelea } from './server/image/telea.ts';
const { image } = await decodeImage(readFileSync('/tmp/cf-image.jpg'), { maxPixels: 1e8 });
const hole = new Uint8Array(256 * 192);
for (let y = 0; y < 192; y++) for (let x = 0; x < 256; x++) if (Math.hypot(x - 120, y - 90) < 30) hole[y * 256 + x] = 1;
const o = inpaintTelea(image, hole, Number(process.argv[2] ?? 5));
await sharp(o.data, { raw: { width: 256, height: 192, channels: 3 } }).extract({ left: 70, top: 40, width: 100, height: 100 }).resize(200).png().toFile(`/tmp/telea-${process.argv[3]}.png`);
