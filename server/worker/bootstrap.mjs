// Plain-JS entry so a worker thread can load the TypeScript sources through tsx,
// whether the parent runs under tsx, vitest or a compiled build.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
