// Request-time source normalisation: uploads, own file URLs, data URIs (deduplicated),
// model-folder names, and the SSRF policy with a fake resolver.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeSource, type SourceContext } from '../../server/api/sources.js';
import { LocalFileStore } from '../../server/storage/local-file-store.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mf-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hashes = new Map<string, string>();
const ctx: SourceContext = {
  files: new LocalFileStore(dir),
  allowlist: ['files.internal'],
  maxBytes: 1024,
  selfHosts: new Set(['api.example:8188']),
  resolve: async (host) => [{ address: host === 'evil.example' ? '10.0.0.5' : host === 'files.internal' ? '192.168.1.2' : '93.184.216.34', family: 4 }],
  uploads: { uploadByHash: (h) => hashes.get(h), putUploadHash: (h, id) => void hashes.set(h, id) },
};

describe('normalizeSource', () => {
  it('stores data URIs once per content and accepts own file URLs', async () => {
    const uri = `data:image/png;base64,${Buffer.from('fake png bytes').toString('base64')}`;
    const a = await normalizeSource(uri, 'image_url', ctx);
    expect(a).toMatch(/^upload:[A-Za-z0-9_-]{16,}$/);
    expect(await normalizeSource(uri, 'image_url', ctx)).toBe(a);
    const id = a.slice(7);
    expect(await normalizeSource(`/v1/files/${id}`, 'image_url', ctx)).toBe(a);
    expect(await normalizeSource(`http://api.example:8188/v1/files/${id}`, 'image_url', ctx)).toBe(a);
    await expect(normalizeSource(`upload:AAAAAAAAAAAAAAAAAAAAAAAA`, 'mask_url', ctx)).rejects.toMatchObject({ status: 422, code: 'upload_not_found', field: 'mask_url' });
    await expect(normalizeSource(`data:image/png;base64,${'A'.repeat(4000)}`, 'image_url', ctx)).rejects.toMatchObject({ status: 413, field: 'image_url' });
  });

  it('passes public URLs and refuses private ones unless allow-listed', async () => {
    expect(await normalizeSource('https://cdn.example/a.png', 'image_url', ctx)).toBe('https://cdn.example/a.png');
    await expect(normalizeSource('https://evil.example/a.png', 'image_url', ctx)).rejects.toMatchObject({ code: 'url_resolves_to_private', field: 'image_url' });
    await expect(normalizeSource('http://api.example:8189/v1/files/AAAAAAAAAAAAAAAAAAAAAAAA', 'image_url', ctx)).resolves.toBe('http://api.example:8189/v1/files/AAAAAAAAAAAAAAAAAAAAAAAA');
    expect(await normalizeSource('http://files.internal/x.png', 'image_url', ctx)).toBe('http://files.internal/x.png');
    await expect(normalizeSource('gopher://x', 'image_url', ctx)).rejects.toMatchObject({ code: 'url_scheme_not_allowed' });
  });

  it('accepts model-folder names only where allowed', async () => {
    expect(await normalizeSource('styles/tinylora_kohya', 'loras.0.path', ctx, { allowName: true })).toBe('styles/tinylora_kohya');
    await expect(normalizeSource('../secrets', 'loras.0.path', ctx, { allowName: true })).rejects.toMatchObject({ status: 422 });
    await expect(normalizeSource('tinylora_kohya', 'image_url', ctx)).rejects.toMatchObject({ code: 'invalid_url' });
  });
});
