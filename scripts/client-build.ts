// Builds the editor (client/dist) when it is missing or older than any client source or
// the lockfile. Used by `npm start` (prestart) and the end-to-end tests.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const CLIENT = path.join(REPO, 'client');
const DIST_INDEX = path.join(CLIENT, 'dist/index.html');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Returns true when it had to build. */
export function ensureClientBuilt(): boolean {
  const built = existsSync(DIST_INDEX) ? statSync(DIST_INDEX).mtimeMs : 0;
  const deps = [path.join(REPO, 'package-lock.json')].filter(existsSync).map((f) => statSync(f).mtimeMs);
  if (built > Math.max(newestSource(CLIENT), ...deps)) return false;
  execFileSync(process.execPath, [path.join(REPO, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'client/vite.config.ts'], { cwd: REPO, stdio: 'pipe' });
  return true;
}
