import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mask } from '../../server/image/types.js';
import { decodeImage } from '../../server/image/io.js';
import { readWorkflowFromPng } from '../../server/image/png-metadata.js';
import { GraphBuilder } from '../helpers/graph-builder.js';
import { createHarness, type Harness } from './engine-helpers.js';
import { dataUri, encode, maskToPng, naturalTexture, rectMask, firstDiff } from './helpers.js';

let h: Harness;
let server: http.Server;
let port: number;
let png: Buffer;
/** What /changing.png serves now, and how often it was asked. */
const changing: { body: Buffer; requests: number } = { body: Buffer.alloc(0), requests: 0 };

beforeAll(async () => {
  png = await encode(naturalTexture(40, 30), 'png');
  changing.body = png;
  server = http.createServer((req, res) => {
    res.setHeader('content-type', 'image/png');
    if (req.url === '/changing.png') {
      changing.requests++;
      res.end(changing.body);
      return;
    }
    res.end(png);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  h = await createHarness({ urlAllowlist: [`127.0.0.1:${port}`] });
});

afterAll(() => new Promise((r) => server.close(r)));

/** Graph: load-image(url) -> capture node outputs via save-image. */
function loadAndSave(url: string, extra: Record<string, unknown> = {}) {
  const g = new GraphBuilder();
  const src = g.add('image/load-image', { url, ...extra }, {}, 'src');
  g.add('image/save-image', {}, { image: src.out('image') }, 'save');
  return g.build();
}

async function savedImage(outputs: Record<string, Record<string, unknown>>, node = 'save', k = 0) {
  const images = outputs[node]!.images as { id: string; width: number; height: number; content_type: string }[];
  const file = await h.files.read(images[k]!.id);
  return { meta: images[k]!, bytes: file!.data };
}

describe('image/load-image', () => {
  it('loads a data URI, an upload id (both forms) and an allowed http URL', async () => {
    const stored = await h.files.save(png, { contentType: 'image/png', ext: 'png' });
    for (const url of [dataUri(png), `upload:${stored.id}`, `/v1/files/${stored.id}`, `http://127.0.0.1:${port}/a.png`]) {
      const { outputs } = await h.run(loadAndSave(url));
      const { meta, bytes } = await savedImage(outputs);
      expect(meta).toMatchObject({ width: 40, height: 30, content_type: 'image/png' });
      expect(firstDiff((await decodeImage(bytes, { maxPixels: 1e8 })).image.data, naturalTexture(40, 30).data)).toBe(-1);
    }
  });

  it('names the param and the host when a URL is refused', async () => {
    await expect(h.run(loadAndSave('http://10.0.0.1/x.png'))).rejects.toMatchObject({ code: 'url_private_address', param: 'url', nodeId: 'src' });
    await expect(h.run(loadAndSave('upload:doesnotexist123456'))).rejects.toMatchObject({ code: 'upload_not_found' });
    await expect(h.run(loadAndSave(''))).rejects.toMatchObject({ code: 'source_missing' });
  });

  it('keys a URL by what it serves: same bytes are cached, new bytes at the same URL load again, one fetch per run', async () => {
    const url = `http://127.0.0.1:${port}/changing.png`;
    const ran = (events: { type: string; nodeId?: string }[]) => events.filter((e) => e.type === 'node:start').map((e) => e.nodeId);
    changing.requests = 0;
    const first = await h.run(loadAndSave(url));
    expect(ran(first.events)).toEqual(['src', 'save']);
    expect(changing.requests).toBe(1); // the fingerprint's fetch is handed to execute()
    const second = await h.run(loadAndSave(url));
    expect(ran(second.events)).toEqual(['save']); // save-image never caches
    expect(changing.requests).toBe(2);
    changing.body = await encode(naturalTexture(20, 10), 'png');
    const third = await h.run(loadAndSave(url));
    expect(ran(third.events)).toEqual(['src', 'save']);
    expect((third.outputs.save!.images as { width: number }[])[0]!.width).toBe(20);
    expect(changing.requests).toBe(3);
  });

  it('reads local paths only when the config allows them', async () => {
    const file = path.join(h.config.dataDir, 'local.png');
    await writeFile(file, png);
    await expect(h.run(loadAndSave(file))).rejects.toMatchObject({ code: 'local_paths_not_allowed', param: 'url' });
    const cli = await createHarness({ allowLocalPaths: true });
    const { outputs } = await cli.run(loadAndSave(file));
    expect(outputs.save!.images).toHaveLength(1);
    // A file changed in place is read again (its size and mtime are in the cache key).
    await writeFile(file, await encode(naturalTexture(20, 10), 'png'));
    const again = await cli.run(loadAndSave(file));
    expect((again.outputs.save!.images as { width: number }[])[0]!.width).toBe(20);
  });

  it('alpha_as_mask: transparent = repaint', async () => {
    const rgba = new Uint8Array(4 * 2 * 4).fill(200);
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    rgba[3] = 0; // first pixel transparent
    const withAlpha = await sharp(rgba, { raw: { width: 4, height: 2, channels: 4 } }).png().toBuffer();
    const g = new GraphBuilder();
    const src = g.add('image/load-image', { url: dataUri(withAlpha), alpha_as_mask: true }, {}, 'src');
    const fill = g.add('image/fill-masked', { method: 'noise', seed: 1 }, { image: src.out('image'), mask: src.out('alpha_mask') });
    const comp = g.add('image/composite', {}, { original: src.out('image'), generated: fill.out('image'), mask: src.out('alpha_mask') });
    g.add('image/save-image', {}, { image: comp.out('image') }, 'save');
    const { outputs } = await h.run(g.build());
    const img = (await decodeImage((await savedImage(outputs)).bytes, { maxPixels: 1e8 })).image;
    // Opaque pixels unchanged; the transparent one repainted with noise.
    expect([...img.data.subarray(3)]).toEqual(new Array(21).fill(200));
    expect([...img.data.subarray(0, 3)]).not.toEqual([200, 200, 200]);
  });
});

describe('mask/load-mask and mask/prepare-mask', () => {
  function maskGraph(maskUrl: string, prepare = {}) {
    const g = new GraphBuilder();
    const src = g.add('image/load-image', { url: dataUri(png) }, {}, 'src');
    const m = g.add('mask/load-mask', { url: maskUrl }, { image: src.out('image') }, 'mask');
    const p = g.add('mask/prepare-mask', prepare, { mask: m.out('mask') }, 'prep');
    const fill = g.add('image/fill-masked', { method: 'blur' }, { image: src.out('image'), mask: p.out('mask') });
    const comp = g.add('image/composite', {}, { original: src.out('image'), generated: fill.out('image'), mask: p.out('soft_mask') });
    g.add('image/save-image', {}, { image: comp.out('image') }, 'save');
    return g.build();
  }

  it('resizes a mask of another size to the image and warns when the aspect ratio changes', async () => {
    const small = await maskToPng(rectMask(20, 20, 5, 5, 5, 5));
    const { outputs, events } = await h.run(maskGraph(dataUri(small)));
    expect(outputs.save!.images).toHaveLength(1);
    const warn = events.find((e) => e.type === 'node:log' && e.nodeId === 'mask' && e.level === 'warn');
    expect(warn && 'msg' in warn ? warn.msg : '').toContain('stretched to the image size 40x30');
  });

  it('reports an empty mask as an error and an all-white mask as a warning', async () => {
    const black = await maskToPng(rectMask(40, 30, 0, 0, 0, 0));
    await expect(h.run(maskGraph(dataUri(black)))).rejects.toMatchObject({ code: 'mask_empty', nodeId: 'mask', param: 'url' });
    const white = await maskToPng(rectMask(40, 30, 0, 0, 40, 30));
    const { events } = await h.run(maskGraph(dataUri(white)));
    expect(events.some((e) => e.type === 'node:log' && e.nodeId === 'mask' && e.level === 'warn' && /all white/.test(e.msg))).toBe(true);
    // Inverting the black mask gives the full one; shrinking everything away is an error.
    const small = await maskToPng(rectMask(40, 30, 10, 10, 4, 4));
    await expect(h.run(maskGraph(dataUri(small), { grow: -3 }))).rejects.toMatchObject({ code: 'mask_empty', param: 'grow' });
  });
});

describe('image/save-image, image/resize, crop and uncrop nodes', () => {
  it('embeds the workflow in PNGs; jpeg and webp carry the right type', async () => {
    const wf = loadAndSave(dataUri(png));
    const { outputs } = await h.run(wf);
    const { bytes } = await savedImage(outputs);
    const embedded = readWorkflowFromPng(bytes) as { nodes: Record<string, { params: Record<string, unknown> }> };
    // Inline data URIs are left out of the embedded copy; the graph and other params stay.
    expect(embedded.nodes.src!.params.url).toBe('');
    expect(embedded.nodes.save!.params).toMatchObject({ format: 'png', embed_workflow: true });
    const g = new GraphBuilder();
    const src = g.add('image/load-image', { url: dataUri(png) });
    g.add('image/save-image', { format: 'jpeg', quality: 80 }, { image: src.out('image') }, 'jpg');
    g.add('image/save-image', { format: 'webp' }, { image: src.out('image') }, 'webp');
    g.add('image/save-image', { embed_workflow: false }, { image: src.out('image') }, 'bare');
    const r = await h.run(g.build());
    expect((await savedImage(r.outputs, 'jpg')).meta.content_type).toBe('image/jpeg');
    expect((await sharp((await savedImage(r.outputs, 'webp')).bytes).metadata()).format).toBe('webp');
    expect(readWorkflowFromPng((await savedImage(r.outputs, 'bare')).bytes)).toBeUndefined();
  });

  it('resize modes give the expected sizes', async () => {
    const g = new GraphBuilder();
    const src = g.add('image/load-image', { url: dataUri(png) }); // 40x30
    for (const [id, mode] of [['fit', 'fit'], ['fill', 'fill'], ['exact', 'exact']] as const) {
      const r = g.add('image/resize', { width: 20, height: 20, mode }, { image: src.out('image') });
      g.add('image/save-image', {}, { image: r.out('image') }, id);
    }
    const { outputs } = await h.run(g.build());
    expect((await savedImage(outputs, 'fit')).meta).toMatchObject({ width: 20, height: 15 });
    expect((await savedImage(outputs, 'fill')).meta).toMatchObject({ width: 20, height: 20 });
    expect((await savedImage(outputs, 'exact')).meta).toMatchObject({ width: 20, height: 20 });
  });

  it('crop-to-mask -> fill -> uncrop changes only the masked area', async () => {
    const big = naturalTexture(200, 150);
    const bigPng = await encode(big, 'png');
    const mask: Mask = rectMask(200, 150, 120, 40, 30, 20);
    const g = new GraphBuilder();
    const src = g.add('image/load-image', { url: dataUri(bigPng) });
    const m = g.add('mask/load-mask', { url: dataUri(await maskToPng(mask)) }, { image: src.out('image') });
    const c = g.add('image/crop-to-mask', { padding: 16, width: 128, height: 128 }, { image: src.out('image'), mask: m.out('mask') });
    const f = g.add('image/fill-masked', { method: 'telea' }, { image: c.out('image'), mask: c.out('mask') });
    const u = g.add('image/uncrop', {}, { original: src.out('image'), image: f.out('image'), crop: c.out('crop'), mask: m.out('mask') });
    g.add('image/save-image', {}, { image: u.out('image') }, 'save');
    const { outputs } = await h.run(g.build());
    const out = (await decodeImage((await savedImage(outputs)).bytes, { maxPixels: 1e8 })).image;
    let changed = 0;
    let wrong = 0;
    for (let i = 0; i < 200 * 150; i++) {
      if (mask.data[i] === 0) wrong += out.data[i * 3] !== big.data[i * 3] ? 1 : 0;
      else if (out.data[i * 3] !== big.data[i * 3]) changed++;
    }
    expect(wrong).toBe(0);
    expect(changed).toBeGreaterThan(0);
  });
});
