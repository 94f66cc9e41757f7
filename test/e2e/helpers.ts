// End-to-end helpers: build the editor when its sources are newer than the build, start the
// real server with the real nodes and the tiny fixture models, drive Debian's Chromium.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { REAL_NODES, REPO, startTestServer, type TestServer } from '../server/helpers.js';

export const ARTIFACTS = path.join(REPO, 'test-artifacts');
const CLIENT = path.join(REPO, 'client');
const DIST_INDEX = path.join(CLIENT, 'dist/index.html');

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds client/dist when it is missing or older than any client source (vite, a few seconds). */
export function ensureClientBuilt(): void {
  const built = existsSync(DIST_INDEX) ? statSync(DIST_INDEX).mtimeMs : 0;
  const deps = [path.join(REPO, 'package-lock.json')].filter(existsSync).map((f) => statSync(f).mtimeMs);
  if (built > Math.max(newestSource(CLIENT), ...deps)) return;
  execFileSync(process.execPath, [path.join(REPO, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'client/vite.config.ts'], { cwd: REPO, stdio: 'pipe' });
}

export async function startEditorServer(env: Record<string, string> = {}): Promise<TestServer> {
  ensureClientBuilt();
  return startTestServer(env, { nodeDirs: [REAL_NODES], staticDir: path.join(CLIENT, 'dist') });
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}

/** A page that records console errors and page errors. */
export async function openPage(browser: Browser, url: string, viewport = { width: 1280, height: 800 }, opts: { touch?: boolean } = {}) {
  const context = await browser.newContext({ viewport, hasTouch: opts.touch ?? false, isMobile: false, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction('window.maskflow?.ready === true', undefined, { timeout: 30_000 });
  return { page, errors, context };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
