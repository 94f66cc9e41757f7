// A throwaway models folder holding one checkpoint file or diffusers folder (as symlinks),
// for tools that are handed a path rather than a model name (the golden CLI, benches).
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CHECKPOINTS_DIR } from './discovery.js';
import { configFolderFor } from './plan.js';

export function modelsDirWith(source: string, opts: { configDir?: string } = {}): { modelsDir: string; name: string; cleanup: () => void } {
  const abs = path.resolve(source);
  const modelsDir = mkdtempSync(path.join(tmpdir(), 'maskflow-models-'));
  const cleanup = () => rmSync(modelsDir, { recursive: true, force: true });
  if (statSync(abs).isDirectory()) {
    const name = path.basename(abs);
    symlinkSync(abs, path.join(modelsDir, name), 'dir');
    return { modelsDir, name, cleanup };
  }
  const dir = path.join(modelsDir, CHECKPOINTS_DIR);
  mkdirSync(dir);
  const name = path.basename(abs);
  symlinkSync(abs, path.join(dir, name));
  const config = opts.configDir ? path.resolve(opts.configDir) : configFolderFor(abs);
  try {
    if (statSync(config).isDirectory()) symlinkSync(config, configFolderFor(path.join(dir, name)), 'dir');
  } catch {
    /* no config folder: the standard SDXL architecture is inferred from the tensors */
  }
  return { modelsDir, name, cleanup };
}
