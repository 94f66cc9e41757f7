// End-to-end helpers: build the editor when its sources are newer than the build, start the
// real server with the real nodes and the tiny fixture models, drive Debian's Chromium.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
export { ensureClientBuilt } from '../../scripts/client-build.js';
import { ensureClientBuilt } from '../../scripts/client-build.js';
import { REAL_NODES, REPO, startTestServer, type TestServer } from '../server/helpers.js';

export const ARTIFACTS = path.join(REPO, 'test-artifacts');
const CLIENT = path.join(REPO, 'client');

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

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
