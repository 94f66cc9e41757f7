import { ModelStore } from '../../server/models/model-store.js';
import { MODELS_DIR } from './golden-io.js';

/** A ModelStore over the fixture models, CPU, one thread per session (tests share 2 cores). */
export function testStore(modelsDir = MODELS_DIR): ModelStore {
  return new ModelStore({
    modelsDir,
    inference: { ep: 'cpu', deviceId: 0, threads: 1, graphOptimization: 'all', outputLocation: 'cpu' },
    sessionCacheBytes: 2 ** 31,
  });
}
