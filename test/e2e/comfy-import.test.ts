// ComfyUI workflow files dropped on the editor (Debian's Chromium, real server, real nodes).
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertPngText } from '../../server/image/png-metadata.js';
import type { TestServer } from '../server/helpers.js';
import { inpaintPrompt } from '../comfy/helpers.js';
import { uiInpaintWorkflow } from '../comfy/ui-fixture.js';
import { ensureClientBuilt, launchBrowser, openPage, screenshot, startEditorServer } from './helpers.js';

declare const window: any;
declare const document: any;
declare const DataTransfer: any;
declare const DragEvent: any;

let server: TestServer;
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  ensureClientBuilt();
  [server, browser] = await Promise.all([startEditorServer(), launchBrowser()]);
  ({ page, errors } = await openPage(browser, server.url));
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function drop(page: Page, bytes: Uint8Array, name: string, type: string): Promise<void> {
  await page.evaluate(
    ([data, fileName, mime]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data as number[])], fileName as string, { type: mime as string }));
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, clientX: 5, clientY: 300, bubbles: true, cancelable: true }));
    },
    [[...bytes], name, type] as const,
  );
}

const statusText = () => page.locator('#status').textContent();
const waitStatus = (re: RegExp) => page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status')!.textContent ?? ''), re.source, { timeout: 30_000 });

describe('opening ComfyUI workflows in the editor', () => {
  it('a ComfyUI PNG dropped on the editor opens as a maskflow graph; untranslatable nodes are marked with the reason', async () => {
    const prompt = {
      ...inpaintPrompt({ steps: 4 }),
      '20': { class_type: 'UltimateSDUpscale', inputs: { image: ['8', 0], upscale_by: 2 } },
      '21': { class_type: 'SaveImage', inputs: { images: ['20', 0], filename_prefix: 'up' } },
    };
    const png = new Uint8Array(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#345' } }).png().toBuffer());
    const file = insertPngText(insertPngText(png, 'prompt', JSON.stringify(prompt)), 'workflow', JSON.stringify(uiInpaintWorkflow({ withUnknown: true })));
    await drop(page, file, 'ComfyUI_00042_.png', 'image/png');
    await waitStatus(/Imported ComfyUI workflow ComfyUI_00042_\.png: 2 node\(s\) not translated/);
    const wf = await page.evaluate(() => window.maskflow.workflow());
    expect(wf.nodes['3']).toMatchObject({ type: 'sampling/denoise', params: { steps: 4, strength: 1, scheduler: 'euler' } });
    expect(wf.nodes['9'].type).toBe('image/save-image');
    expect(Object.values(wf.nodes).map((n: any) => n.type)).not.toContain('comfyui/untranslated');
    const marked = await page.evaluate(() => window.maskflow.editor.untranslated());
    expect(marked.map((u: any) => [u.id, u.class_type])).toEqual([
      ['20', 'UltimateSDUpscale'],
      ['21', 'SaveImage'],
    ]);
    expect(marked[0].reason).toContain('no maskflow translation');
    const pos = await page.evaluate(() => window.maskflow.editor.node('3').pos);
    expect([...pos]).toEqual([863, 186]);
    await page.evaluate(() => window.maskflow.editor.fitView());
    await page.waitForTimeout(200);
    await screenshot(page, 'e2e-comfy-01-png-import');
    expect(errors).toEqual([]);
  });

  it('opens a ComfyUI UI-format JSON workflow the same way, and it validates', async () => {
    const bytes = new TextEncoder().encode(JSON.stringify(uiInpaintWorkflow()));
    await drop(page, bytes, 'inpaint.json', 'application/json');
    await waitStatus(/Imported ComfyUI workflow inpaint\.json$/);
    const wf = await page.evaluate(() => window.maskflow.workflow());
    expect(wf.nodes['3'].params).toMatchObject({ scheduler: 'dpmpp_2m_karras', strength: 0.9 });
    expect(await page.evaluate(() => window.maskflow.editor.untranslated())).toEqual([]);
    const res = await fetch(`${server.url}/v1/comfy/import`, { method: 'POST', body: bytes });
    expect(res.status).toBe(200);
    const junk = await fetch(`${server.url}/v1/comfy/import`, { method: 'POST', body: '{"a":1}' });
    expect(junk.status).toBe(422);
    expect(await statusText()).toMatch(/inpaint\.json/);
  });
});
