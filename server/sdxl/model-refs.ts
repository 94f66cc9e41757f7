// Building model refs for the load-model node (validates the folder up front so a missing
// component is reported by the node that names the model).
import type { ModelStore } from '../models/model-store.js';
import type { ModelRef } from '../models/refs.js';

export function modelRef(store: ModelStore, name: string): ModelRef {
  const info = store.info(name);
  return { model: info.name, loras: [], embeddings: [] };
}
