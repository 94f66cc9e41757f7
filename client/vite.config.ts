// The editor's own build: `npm run build:client` writes client/dist, which the server serves at /.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    // `npx vite --config client/vite.config.ts` for development against a running server.
    proxy: { '/v1': 'http://127.0.0.1:8188', '/ws': { target: 'ws://127.0.0.1:8188', ws: true }, '/health': 'http://127.0.0.1:8188' },
  },
});
