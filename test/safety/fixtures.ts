// Loads the safety goldens of test/fixtures/safety (README §8).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { RgbImage } from '../../server/image/types.js';

export const SAFETY_DIR = fileURLToPath(new URL('../fixtures/safety/', import.meta.url));
export const SD_CHECKER_DIR = path.join(SAFETY_DIR, 'stable_diffusion_safety_checker');
export const CLASSIFIER_DIR = path.join(SAFETY_DIR, 'nsfw_image_classifier');

export interface GoldenCase {
  name: string;
  height: number;
  width: number;
  has_nsfw_concepts: boolean;
  special_care: boolean;
  classifier_label: string;
  classifier_probabilities: [number, number];
}

export const INDEX = JSON.parse(readFileSync(path.join(SAFETY_DIR, 'goldens/index.json'), 'utf8')) as { cases: GoldenCase[] };
export const CASES = INDEX.cases;

export function caseDir(name: string): string {
  return path.join(SAFETY_DIR, 'goldens', name);
}

export function readF32(file: string): Float32Array {
  const buf = readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export async function readPng(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${file}: expected RGB`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function meta(name: string): Record<string, any> {
  return JSON.parse(readFileSync(path.join(caseDir(name), 'meta.json'), 'utf8'));
}
