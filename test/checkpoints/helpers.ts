// A scratch models folder that holds the fixture checkpoints the way users lay them out:
// single files (with their config folders) in checkpoints/, a diffusers folder beside them,
// all as symlinks (the catalogue must follow them).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelStore } from '../../server/models/model-store.js';
import { FIXTURES } from '../sdxl/golden-io.js';

export const CHECKPOINTS = path.join(FIXTURES, 'checkpoints');

export const SINGLE = 'tiny-sdxl-inpaint.safetensors';
export const SINGLE_FP16 = 'tiny-sdxl-inpaint.fp16.safetensors';
export const BASE = 'tiny-sdxl-base.safetensors';
export const DIFFUSERS = 'tiny-sdxl-inpaint-diffusers';

export function scratchModels(): { root: string; modelsDir: string; compiledDir: string; cleanup: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'maskflow-ckpt-'));
  const modelsDir = path.join(root, 'models');
  const ck = path.join(modelsDir, 'checkpoints');
  mkdirSync(ck, { recursive: true });
  for (const f of [SINGLE, SINGLE_FP16, BASE, 'tiny-sdxl-inpaint.config', 'tiny-sdxl-base.config']) symlinkSync(path.join(CHECKPOINTS, f), path.join(ck, f));
  symlinkSync(path.join(CHECKPOINTS, DIFFUSERS), path.join(modelsDir, DIFFUSERS), 'dir');
  return { root, modelsDir, compiledDir: path.join(root, 'data', 'compiled'), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function storeFor(modelsDir: string, compiledDir: string): ModelStore {
  return new ModelStore({
    modelsDir,
    compiledDir,
    inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' },
    sessionCacheBytes: 2 ** 31,
  });
}
