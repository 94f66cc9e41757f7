import { launchBrowser, openPage, screenshot } from './helpers.js';
const url = process.argv[2]!;
const b = await launchBrowser();
const { page, errors } = await openPage(b, url);
await page.evaluate(() => { const e = (window as any).maskflow.editor; e.canvas.ds.scale = 0.8; e.canvas.ds.offset = [60, 40]; e.canvas.setDirty(true, true); });
await page.waitForTimeout(300);
console.log(await page.evaluate(() => (window as any).maskflow.editor.nodes().map((n: any) => [n.wfId, [...n.size].map(Math.round)].join(':')).join(' ')));
await screenshot(page, 'scratch2');
await b.close();
