// The editor's Models panel in Chromium against the real server and the fake Hub: the no-model
// note offers a pull, the pull shows a progress bar fed by websocket events, the model is
// listed, then deleted.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub, readTree } from '../models/helpers/fake-hub.js';
import { REPO, tempDir, type TestServer } from '../server/helpers.js';
import { launchBrowser, openPage, screenshot, startEditorServer } from './helpers.js';

declare const document: any;

let hub: FakeHub;
let server: TestServer;
let browser: Browser;
const models = tempDir('maskflow-pull-e2e-');

beforeAll(async () => {
  hub = await new FakeHub().start();
  hub.addRepo('maskflow/tiny-sdxl-inpaint-diffusers', readTree(path.join(REPO, 'test/fixtures/checkpoints/tiny-sdxl-inpaint-diffusers')));
  [server, browser] = await Promise.all([startEditorServer({ MASKFLOW_MODELS_DIR: models, HF_ENDPOINT: hub.url }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await hub?.close();
});

describe('Models panel', () => {
  it('pulls a model from the no-model note with a progress bar, lists it and deletes it', async () => {
    const { page, errors } = await openPage(browser, server.url);
    expect(await page.locator('#note').isVisible()).toBe(true);
    expect(await page.locator('#models-list').textContent()).toMatch(/No model installed/);

    // The note's button opens the pull form with a suggestion; we pull the fake Hub's repo instead.
    await page.click('#btn-note-pull');
    expect(await page.inputValue('#model-source')).toBe('diffusers/stable-diffusion-xl-1.0-inpainting-0.1');
    await page.fill('#model-source', 'maskflow/tiny-sdxl-inpaint-diffusers');
    await page.fill('#model-name', 'tiny-pulled');
    hub.throttle = { chunk: 128 * 1024, delayMs: 40 };
    await page.click('#btn-pull');

    // The progress bar moves while the files arrive.
    await page.waitForFunction(() => {
      const bar = document.getElementById('pull-progress');
      return !document.getElementById('pull-progress-box').hidden && bar.max > 1 && bar.value > 0 && bar.value < bar.max;
    }, undefined, { timeout: 30_000 });
    expect(await page.locator('#pull-progress-text').textContent()).toMatch(/\(\d+\/18\) · [\d.]+ (B|KiB|MiB) \/ [\d.]+ MiB/);
    await screenshot(page, 'e2e-models-pulling');
    hub.throttle = undefined;

    await page.waitForFunction(() => /Installed tiny-pulled \(diffusers\)/.test(document.getElementById('pull-result').textContent), undefined, { timeout: 60_000 });
    expect(await page.locator('#pull-progress-box').isHidden()).toBe(true);
    const row = page.locator('#models-list li[data-model="tiny-pulled"]');
    await row.waitFor();
    expect(await row.textContent()).toMatch(/diffusers · inpaint · [\d.]+ MiB/);
    expect(await page.locator('#note').textContent()).toMatch(/Model tiny-pulled installed/);
    expect(existsSync(path.join(models, 'tiny-pulled/unet/diffusion_pytorch_model.fp16.safetensors'))).toBe(true);
    await screenshot(page, 'e2e-models-installed');

    // A failing pull shows the server's message.
    await page.fill('#model-source', 'maskflow/does-not-exist');
    await page.fill('#model-name', '');
    await page.click('#btn-pull');
    await page.waitForFunction(() => /Pull failed: .*not found/.test(document.getElementById('pull-result').textContent), undefined, { timeout: 30_000 });

    page.once('dialog', (d) => void d.accept());
    await row.locator('button.delete-model').click();
    await page.waitForFunction(() => !document.querySelector('#models-list li[data-model="tiny-pulled"]'), undefined, { timeout: 10_000 });
    expect(existsSync(path.join(models, 'tiny-pulled'))).toBe(false);
    expect(errors).toEqual([]);
  });
});
