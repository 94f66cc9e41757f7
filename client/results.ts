// Finds the images in a node's `ui` result (save-image reports its files; other nodes may
// report URLs or file ids). Pure.

const IMAGE_EXT = /\.(png|jpe?g|webp|gif)(\?|$)/i;

export function imageUrls(result: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const visit = (v: unknown, key: string): void => {
    if (typeof v === 'string') {
      if (v.startsWith('data:image/') || v.includes('/v1/files/') || (/^https?:\/\//.test(v) && IMAGE_EXT.test(v)) || (key === 'url' && v.startsWith('/'))) out.push(v);
      return;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) visit(x, key);
      return;
    }
    const o = v as Record<string, unknown>;
    if (typeof o.url !== 'string' && typeof o.id === 'string' && typeof o.contentType === 'string' && o.contentType.startsWith('image/')) {
      out.push(`/v1/files/${o.id}`);
    }
    for (const [k, x] of Object.entries(o)) visit(x, k);
  };
  visit(result, '');
  return [...new Set(out)];
}
