// Extension point of the golden replay for LoRA / textual-inversion cases (`lora_*`, `ti_*`).
// A hook receives the case's params.json (its `lora` / `textual_inversion` entries), the
// case folder, the ModelStore and the current ref plus the CLI options (e.g. --lora-format
// kohya|peft). It registers what it needs (store.setPatcher(...)) and returns the ref to use
// (with `loras` / `embeddings` filled in), or undefined to keep the ref unchanged.
// The LoRA engineer pushes their hook here (GOLDEN_HOOKS.push(...)) from an imported module.
import type { ModelStore } from '../models/model-store.js';
import type { ModelRef } from '../models/refs.js';
import type { GoldenParams } from './golden-replay.js';

export interface GoldenHookContext {
  params: GoldenParams;
  caseDir: string;
  store: ModelStore;
  ref: ModelRef;
  options: Record<string, string | boolean>;
}

export type GoldenHook = (ctx: GoldenHookContext) => Promise<ModelRef | undefined | void>;

export const GOLDEN_HOOKS: GoldenHook[] = [];

export function registerGoldenHook(hook: GoldenHook): void {
  GOLDEN_HOOKS.push(hook);
}
