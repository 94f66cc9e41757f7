// Gives memory that native code freed back to the OS after a job. With onnxruntime's CPU arena
// off (the default, inference-options.ts), a 1024² job's activations are freed into glibc's
// heaps, which return only their top and keep the rest resident (0.4–0.5 GB above idle on the
// bench model). glibc's malloc_trim(0) releases every free page; Node has no binding for it, so
// a 30-line addon (native/heap-trim, built by node-gyp at install) provides one. Where the addon
// is missing (build failed, not glibc) this is a no-op: memory is still reused by later jobs.
import { createRequire } from 'node:module';

interface HeapTrim {
  trim(): boolean;
  supported(): boolean;
}

let addon: HeapTrim | null | undefined;

function load(): HeapTrim | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('maskflow-heap-trim') as HeapTrim;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** Whether freed native memory can be handed back (glibc with the addon built). */
export function canReleaseFreedMemory(): boolean {
  return load()?.supported() ?? false;
}

/** Hands free pages of the C heap back to the OS; true when some were released. */
export function releaseFreedMemory(): boolean {
  return load()?.trim() ?? false;
}
