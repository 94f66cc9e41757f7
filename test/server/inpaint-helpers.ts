// Test images for the inpainting tests: a textured RGB image and a centred square mask.
import sharp from 'sharp';

export const SIZE = 64;
/** The mask square [LO, HI) in both axes; outside it (beyond the feather) pixels must be unchanged. */
export const LO = 24;
export const HI = 40;

export function imageRgb(size = SIZE): Buffer {
  const data = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      data[i] = (x * 4) & 255;
      data[i + 1] = (y * 4) & 255;
      data[i + 2] = ((x ^ y) * 8) & 255;
    }
  }
  return data;
}

export async function pngDataUri(raw: Buffer, size: number, channels: 1 | 3): Promise<string> {
  const png = await sharp(raw, { raw: { width: size, height: size, channels } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

export async function testInputs(size = SIZE) {
  const mask = Buffer.alloc(size * size);
  for (let y = LO; y < HI; y++) for (let x = LO; x < HI; x++) mask[y * size + x] = 255;
  return { image: imageRgb(size), imageUri: await pngDataUri(imageRgb(size), size, 3), maskUri: await pngDataUri(mask, size, 1) };
}

export async function decodeRgb(bytes: Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export function dataUriBytes(uri: string): Buffer {
  return Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
}

/** Counts pixels farther than `margin` from the mask square whose RGB differs. */
export function changedOutside(a: Buffer, b: Buffer, size: number, margin: number): { changed: number; compared: number } {
  let changed = 0;
  let compared = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = Math.max(LO - x, x - (HI - 1), 0);
      const dy = Math.max(LO - y, y - (HI - 1), 0);
      if (Math.max(dx, dy) <= margin) continue;
      compared++;
      const i = (y * size + x) * 3;
      if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) changed++;
    }
  }
  return { changed, compared };
}
