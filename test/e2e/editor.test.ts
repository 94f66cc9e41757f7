// The editor in Debian's Chromium against the real server, real nodes and the tiny models.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../server/helpers.js';
import { tempDir } from '../server/helpers.js';
import { ARTIFACTS, ensureClientBuilt, launchBrowser, openPage, screenshot, startEditorServer } from './helpers.js';

// Functions passed to page.evaluate run in the browser; the root tsconfig has no DOM lib.
declare const window: any;
declare const document: any;
declare const DataTransfer: any;
declare const DragEvent: any;

type Wf = { nodes: Record<string, { type: string; params?: Record<string, unknown>; inputs?: Record<string, [string, string]> }>; [k: string]: unknown };

let server: TestServer;
/** The same server with an empty models folder. */
let bare: TestServer;
let browser: Browser;
let inputPng: string;

beforeAll(async () => {
  ensureClientBuilt();
  [server, bare, browser] = await Promise.all([startEditorServer(), startEditorServer({ MASKFLOW_MODELS_DIR: tempDir('maskflow-nomodels-') }), launchBrowser()]);
  mkdirSync(ARTIFACTS, { recursive: true });
  inputPng = path.join(tempDir('maskflow-e2e-'), 'input.png');
  const gradient = Buffer.alloc(128 * 96 * 3);
  for (let i = 0; i < 128 * 96; i++) gradient.set([(i % 128) * 2, Math.floor(i / 128) * 2, 120], i * 3);
  writeFileSync(inputPng, await sharp(gradient, { raw: { width: 128, height: 96, channels: 3 } }).png().toBuffer());
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), bare?.stop()]);
});

const status = (page: Page) => page.locator('#status').textContent();
const workflow = (page: Page) => page.evaluate(() => window.maskflow.workflow() as Wf);
async function waitStatus(page: Page, re: RegExp, timeout = 30_000): Promise<void> {
  try {
    await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status')!.textContent ?? ''), re.source, { timeout });
  } catch (err) {
    throw new Error(`status never matched ${re}: it says "${await status(page)}" (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Screen point of a node's title bar (centred in view first; LiteGraph hit-tests the nodes it drew last frame, so wait one). */
async function nodeTitle(page: Page, id: string): Promise<[number, number]> {
  const point = await page.evaluate((nodeId) => {
    const e = window.maskflow.editor;
    const n = e.node(nodeId);
    e.canvas.centerOnNode(n);
    e.canvas.setDirty(true, true);
    const r = e.canvas.canvas.getBoundingClientRect();
    const ds = e.canvas.ds;
    return [(n.pos[0] + 50 + ds.offset[0]) * ds.scale + r.left, (n.pos[1] - 14 + ds.offset[1]) * ds.scale + r.top] as [number, number];
  }, id);
  await page.waitForTimeout(150);
  return point;
}

describe('workflow editor', () => {
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    ({ page, errors } = await openPage(browser, server.url));
  });

  it('loads without console errors and shows the default workflow with its nodes', async () => {
    await waitStatus(page, /Opened sdxl-inpaint/);
    const wf = await workflow(page);
    expect(Object.keys(wf.nodes)).toEqual(expect.arrayContaining(['model', 'image', 'mask', 'text', 'sampler', 'decode', 'save']));
    expect(await page.locator('#note').isVisible()).toBe(false);
    expect(await page.locator('#public-inputs li').count()).toBeGreaterThan(5);
    await screenshot(page, 'e2e-01-default-workflow');
    expect(errors).toEqual([]);
  });

  it('loads an image into the load-image node and paints a mask that ends up on the mask input', async () => {
    const [x, y] = await nodeTitle(page, 'image');
    await page.mouse.click(x, y);
    await page.waitForSelector('#btn-upload-image');
    const chooser = page.waitForEvent('filechooser');
    await page.click('#btn-upload-image');
    await (await chooser).setFiles(inputPng);
    await waitStatus(page, /Image loaded into image/);
    const imageUrl = (await workflow(page)).nodes.image!.params!.url as string;
    expect(imageUrl).toMatch(/^\/v1\/files\//);

    await page.click('#btn-paint-mask');
    const canvas = page.locator('.mf-painter-canvas');
    await canvas.waitFor();
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.5, { steps: 12 });
    await page.mouse.up();
    // erase part of it again, undo the erase
    await page.click('.mf-mode');
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.up();
    await page.click('.mf-undo');
    await page.click('.mf-mode');
    await screenshot(page, 'e2e-02-mask-painter');
    await page.click('.mf-save');
    await waitStatus(page, /Mask loaded in mask/);
    const wf = await workflow(page);
    const maskUrl = wf.nodes.mask!.params!.url as string;
    expect(maskUrl).toMatch(/^\/v1\/files\//);
    expect(wf.nodes.mask!.inputs!.image).toEqual(['image', 'image']);
    // the uploaded mask is white where painted, the image's size
    const mask = await fetch(new URL(maskUrl, server.url)).then((r) => r.arrayBuffer());
    const { data, info } = await sharp(Buffer.from(mask)).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([128, 96]);
    expect(data[48 * 128 + 64]).toBeGreaterThan(200);
    expect(data[5 * 128 + 5]).toBe(0);
    expect(errors).toEqual([]);
  });

  it('runs with the tiny model over the websocket and shows the output image', async () => {
    await page.evaluate(() => window.maskflow.editor.setParam('sampler', 'steps', 3));
    await page.keyboard.press('Control+Enter');
    await waitStatus(page, /Done|Failed|invalid/, 90_000);
    expect(await status(page)).toMatch(/^Done/);
    const img = page.locator('#gallery img').first();
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('#gallery img')?.naturalWidth === 128);
    const saveView = await page.evaluate(() => {
      const n = window.maskflow.editor.node('save');
      return { state: n.view.state, images: n.view.images.length };
    });
    expect(saveView).toEqual({ state: 'done', images: 1 });
    await nodeTitle(page, 'save');
    await page.waitForTimeout(200);
    await screenshot(page, 'e2e-03-run-done');
    expect(errors).toEqual([]);
  });

  it('marks a node param as a named public input', async () => {
    const [x, y] = await nodeTitle(page, 'sampler');
    await page.mouse.click(x, y);
    await page.check('#node-panel input[type=checkbox][data-param="guidance_rescale"]');
    await page.fill('#node-panel input.public-name[data-param="guidance_rescale"]', 'rescale');
    await page.press('#node-panel input.public-name[data-param="guidance_rescale"]', 'Enter');
    const inputs = (await workflow(page)).inputs as Record<string, { node: string; param: string }>;
    expect(inputs.rescale).toMatchObject({ node: 'sampler', param: 'guidance_rescale' });
    expect(inputs.guidance_rescale).toBeUndefined();
    expect(await page.locator('#public-inputs').textContent()).toContain('rescale → sampler.guidance_rescale');
  });

  it('shows node descriptions as tooltips', async () => {
    const [x, y] = await nodeTitle(page, 'decode');
    await page.mouse.move(x, y);
    await page.mouse.move(x + 2, y);
    await page.locator('.mf-tooltip').waitFor({ state: 'visible' });
    expect(await page.locator('.mf-tooltip').textContent()).toMatch(/latent\/vae-decode/);
  });

  it('saves a workflow on the server and reloads it identical', async () => {
    await page.fill('#wf-name', 'e2e-saved');
    await page.locator('#graph').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Control+s');
    await waitStatus(page, /Saved e2e-saved/);
    const saved = await workflow(page);
    const stored = (await fetch(new URL('/v1/workflows/e2e-saved', server.url)).then((r) => r.json())) as Wf;
    expect(stored).toEqual(saved);
    const again = await openPage(browser, `${server.url}/?workflow=e2e-saved`);
    await waitStatus(again.page, /Opened e2e-saved/);
    expect(await workflow(again.page)).toEqual(saved);
    expect(again.errors).toEqual([]);
    await again.context.close();
  });

  it('deletes a saved workflow', async () => {
    const second = await openPage(browser, `${server.url}/?workflow=e2e-saved`);
    await waitStatus(second.page, /Opened e2e-saved/);
    expect(await second.page.locator('#wf-list option[value="e2e-saved"]').count()).toBe(1);
    second.page.once('dialog', (d) => void d.accept());
    await second.page.click('#btn-delete');
    await waitStatus(second.page, /Deleted e2e-saved/);
    expect(await second.page.locator('#wf-list option[value="e2e-saved"]').count()).toBe(0);
    expect((await fetch(new URL('/v1/workflows/e2e-saved', server.url))).status).toBe(404);
    await second.context.close();
  });

  it('shows a validation error on the node whose link is broken', async () => {
    await page.evaluate(() => {
      const e = window.maskflow.editor;
      const n = e.node('decode');
      n.disconnectInput(n.inputs.findIndex((i: { name: string }) => i.name === 'latent'));
    });
    await page.click('#btn-run');
    await waitStatus(page, /invalid/);
    const view = await page.evaluate(() => window.maskflow.editor.node('decode').view);
    expect(view.state).toBe('error');
    expect(view.errors.join(' ')).toMatch(/latent/);
    expect(await page.locator('#problems li').first().textContent()).toMatch(/^decode: .*latent/);
    await nodeTitle(page, 'decode');
    await page.waitForTimeout(200);
    await screenshot(page, 'e2e-04-validation-error');
  });

  it('opens a PNG saved by maskflow (drag and drop) with its embedded workflow', async () => {
    const url = await page.locator('#gallery img').first().getAttribute('src');
    await page.evaluate(async (src) => {
      const bytes = await fetch(src!).then((r) => r.arrayBuffer());
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'result.png', { type: 'image/png' }));
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, clientX: 5, clientY: 300, bubbles: true, cancelable: true }));
    }, url);
    await waitStatus(page, /Loaded result.png/);
    const wf = await workflow(page);
    expect(wf.nodes.decode!.inputs!.latent).toEqual(['sampler', 'latent']);
    expect(wf.nodes.sampler!.params!.steps).toBe(3);
  });

  it('shows an execution error on the node that failed', async () => {
    const url = await page.evaluate(() => window.maskflow.editor.param('image', 'url'));
    await page.evaluate(() => window.maskflow.editor.setParam('image', 'url', '/v1/files/no-such-file'));
    await page.keyboard.press('Control+Enter');
    await waitStatus(page, /^(Failed|Done)/, 60_000);
    expect(await status(page)).toMatch(/^Failed: /);
    const view = await page.evaluate(() => window.maskflow.editor.node('image').view);
    expect(view.state).toBe('error');
    expect(view.errors[0]).toMatch(/no-such-file|not found|unknown/i);
    expect(await page.locator('#problems li').first().textContent()).toMatch(/^image: /);
    await page.evaluate((u) => window.maskflow.editor.setParam('image', 'url', u), url);
  });

  it('cancels a running workflow', async () => {
    // 150 steps at 512x512 take the tiny model ~25 s, so the cancel lands mid-run
    await page.evaluate(() => {
      const e = window.maskflow.editor;
      e.setParam('sampler', 'steps', 150);
      e.setParam('encode', 'width', 512);
      e.setParam('encode', 'height', 512);
    });
    await page.keyboard.press('Control+Enter');
    await waitStatus(page, /Running Denoise .*: \d+\/\d+/, 60_000);
    expect(await page.locator('#btn-cancel').isEnabled()).toBe(true);
    const running = await page.evaluate(() => {
      const v = window.maskflow.editor.node('sampler').view;
      return { state: v.state, progress: v.progress };
    });
    expect(running.state).toBe('running');
    expect(running.progress).toBeGreaterThan(0);
    await screenshot(page, 'e2e-05-running');
    await page.click('#btn-cancel');
    await waitStatus(page, /^(Cancelled|Done|Failed)/, 60_000);
    expect(await status(page)).toBe('Cancelled');
    expect(await page.locator('#btn-run').isEnabled()).toBe(true);
  });

  it('opens a workflow JSON with the Upload button', async () => {
    const file = path.join(tempDir('maskflow-e2e-'), 'tiny.json');
    writeFileSync(file, JSON.stringify({ version: 1, name: 'tiny', nodes: { src: { type: 'image/load-image' }, out: { type: 'image/save-image', inputs: { image: ['src', 'image'] } } } }));
    await page.setInputFiles('#file-input', file);
    await waitStatus(page, /Loaded tiny.json/);
    expect(Object.keys((await workflow(page)).nodes)).toEqual(['src', 'out']);
    expect(await page.inputValue('#wf-name')).toBe('tiny');
    await page.evaluate(() => window.maskflow.open('sdxl-inpaint'));
  });

  it('deletes the selected node with the Delete key', async () => {
    const [x, y] = await nodeTitle(page, 'composite');
    await page.mouse.click(x, y);
    await page.keyboard.press('Delete');
    expect(Object.keys((await workflow(page)).nodes)).not.toContain('composite');
  });
});

describe('editor without models, on a tablet', () => {
  it('opens classical-fill with a note on adding a model, and paints with touch', async () => {
    {
      const { page, errors, context } = await openPage(browser, bare.url, { width: 820, height: 1180 }, { touch: true });
      await waitStatus(page, /Opened classical-fill/);
      expect(await page.locator('#note').isVisible()).toBe(true);
      expect(await page.locator('#note').textContent()).toMatch(/models\/checkpoints\//);
      expect(Object.keys((await workflow(page)).nodes)).toContain('load_image');
      await screenshot(page, 'e2e-06-tablet-classical-fill');
      // the side panel slides in on narrow screens
      expect(await page.locator('#sidebar').evaluate((el) => el.getBoundingClientRect().left >= window.innerWidth)).toBe(true);
      await page.tap('#btn-sidebar');
      await page.waitForTimeout(250);
      expect(await page.locator('#sidebar').evaluate((el) => el.getBoundingClientRect().right <= window.innerWidth + 1)).toBe(true);
      // the palette adds nodes without a right-click
      await page.fill('#palette-filter', 'resize');
      await page.tap('.palette button[data-type="image/resize"]');
      expect(Object.keys((await workflow(page)).nodes)).toContain('resize');

      // load an image through the API and paint on it with a finger
      const up = (await fetch(new URL('/v1/uploads', bare.url), { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: await sharp(inputPng).toBuffer() }).then((r) => r.json())) as { id: string };
      // without its Load mask node: saving the mask creates one and links it where the old one was
      await page.evaluate((id) => {
        const mf = window.maskflow;
        mf.editor.graph.remove(mf.editor.node('load_mask'));
        mf.editor.setParam('load_image', 'url', `/v1/files/${id}`);
      }, up.id);
      // a finger drag on the background pans, a tap on a title selects
      const cdp = await context.newCDPSession(page);
      const offset = () => page.evaluate(() => [...window.maskflow.editor.canvas.ds.offset] as number[]);
      await page.evaluate(() => window.maskflow.editor.canvas.deselectAll());
      const [tx, ty] = await nodeTitle(page, 'load_image');
      const before = await offset();
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: 100, y: 1100 }] });
      for (let i = 1; i <= 6; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: 100 + i * 5, y: 1100 - i * 4 }] });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      const after = await offset();
      expect(after[0]).toBeGreaterThan(before[0]!);
      await page.waitForTimeout(150);
      const scale = await page.evaluate(() => window.maskflow.editor.canvas.ds.scale as number);
      const [sx, sy] = [tx + (after[0]! - before[0]!) * scale, ty + (after[1]! - before[1]!) * scale];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: sx, y: sy }] });
      await page.waitForTimeout(60);
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      await page.waitForSelector('#btn-paint-mask');
      await page.click('#btn-paint-mask');
      const box = (await page.locator('.mf-painter-canvas').boundingBox())!;
      const pt = (fx: number, fy: number) => [{ x: box.x + box.width * fx, y: box.y + box.height * fy }];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: pt(0.2, 0.3) });
      for (let i = 1; i <= 8; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: pt(0.2 + i * 0.07, 0.3 + i * 0.03) });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      await screenshot(page, 'e2e-07-tablet-touch-mask');
      await page.click('.mf-save');
      await waitStatus(page, /Mask|rror|fail/i);
      expect(await status(page)).toMatch(/^Mask loaded in load-mask and connected to prepare\.mask \(\d+% to repaint\)/);
      const wf = await workflow(page);
      expect(wf.nodes['load-mask']).toMatchObject({ type: 'mask/load-mask', inputs: { image: ['load_image', 'image'] } });
      expect(wf.nodes['load-mask']!.params!.url).toMatch(/^\/v1\/files\//);
      expect(wf.nodes.prepare!.inputs!.mask).toEqual(['load-mask', 'mask']);
      expect(Number((await status(page))!.match(/\((\d+)%/)![1])).toBeGreaterThan(2);
      expect(errors).toEqual([]);
      await context.close();
    }
  });
});
