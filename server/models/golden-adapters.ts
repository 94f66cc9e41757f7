// Golden replay of LoRA and textual-inversion cases (`npm run golden`): turns a case's
// params.json entries into LoraRefs / EmbeddingRefs and registers the patcher on the
// replay's ModelStore. LoRA files are in lora/ next to the goldens/ folder
// (<caseDir>/../../lora/<file>); `--lora-format kohya|peft` picks one of the two files
// (default kohya). Textual-inversion paths are relative to the case folder.
import os from 'node:os';
import path from 'node:path';
import { registerGoldenHook } from '../sdxl/golden-hooks.js';
import type { ModelStore } from './model-store.js';
import type { ModelRef } from './refs.js';
import { AdapterPatcher } from './adapter-patcher.js';
import { ModelSources } from './model-sources.js';

const patchers = new WeakMap<ModelStore, AdapterPatcher>();

export function patcherFor(store: ModelStore): AdapterPatcher {
  let p = patchers.get(store);
  if (!p) {
    const cacheDir = path.join(os.tmpdir(), 'maskflow-golden-cache');
    const sources = new ModelSources({
      modelsDir: store.options.modelsDir,
      cacheDir,
      urlAllowlist: [],
      maxBytes: 2 ** 31,
      timeoutMs: 60_000,
      maxRedirects: 3,
    });
    p = new AdapterPatcher(sources, { cacheDir, modelDir: (n) => store.info(n).dir, logger: store.options.logger });
    patchers.set(store, p);
    store.setPatcher(p);
  }
  return p;
}

interface LoraEntry {
  files?: Record<string, string>;
  file?: string;
  strength?: number;
  strength_model?: number;
  strength_clip?: number;
}

interface TiEntry {
  file: string;
  token?: string;
}

registerGoldenHook(async ({ params, caseDir, store, ref, options }) => {
  if (params.lora === undefined && params.textual_inversion === undefined) return undefined;
  const patcher = patcherFor(store);
  const out: ModelRef = { ...ref, loras: [...ref.loras], embeddings: [...ref.embeddings] };
  const loras = params.lora === undefined ? [] : Array.isArray(params.lora) ? (params.lora as LoraEntry[]) : [params.lora as LoraEntry];
  const format = typeof options['lora-format'] === 'string' ? options['lora-format'] : 'kohya';
  for (const l of loras) {
    const name = l.files ? l.files[format] : l.file;
    if (!name) throw new Error(`--lora-format ${format}: the case lists ${Object.keys(l.files ?? {}).join(', ') || 'no files'}`);
    const file = path.resolve(caseDir, '..', '..', 'lora', name);
    const r = await patcher.sources.registerFile(file);
    const s = l.strength ?? 1;
    out.loras.push({ source: file, sha256: r.sha256, strengthModel: l.strength_model ?? s, strengthClip: l.strength_clip ?? s });
  }
  const tis = params.textual_inversion === undefined ? [] : Array.isArray(params.textual_inversion) ? (params.textual_inversion as TiEntry[]) : [params.textual_inversion as TiEntry];
  for (const t of tis) {
    const file = path.resolve(caseDir, t.file);
    const r = await patcher.sources.registerFile(file);
    out.embeddings.push({ source: file, sha256: r.sha256, ...(t.token ? { token: t.token } : {}) });
  }
  return out;
});
