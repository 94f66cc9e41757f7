// Output and upload files in a local folder, addressed by unguessable ids.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileStore, StoredFile } from '../engine/context.js';

/** Shape of a stored file's id (unguessable, URL-safe). */
export const FILE_ID = /^[A-Za-z0-9_-]{16,64}$/;

export class LocalFileStore implements FileStore {
  constructor(readonly dir: string) {}

  async save(data: Uint8Array, opts: { contentType: string; ext: string }): Promise<StoredFile> {
    await mkdir(this.dir, { recursive: true });
    const id = randomBytes(18).toString('base64url');
    const ext = opts.ext.replace(/[^a-z0-9]/gi, '').slice(0, 8) || 'bin';
    const filename = `${id}.${ext}`;
    await writeFile(path.join(this.dir, filename), data);
    const meta: StoredFile = { id, filename, contentType: opts.contentType, size: data.byteLength };
    await writeFile(path.join(this.dir, `${id}.json`), JSON.stringify(meta));
    return meta;
  }

  async meta(id: string): Promise<StoredFile | undefined> {
    if (!FILE_ID.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(path.join(this.dir, `${id}.json`), 'utf8')) as StoredFile;
    } catch {
      return undefined;
    }
  }

  async pathOf(id: string): Promise<string | undefined> {
    const meta = await this.meta(id);
    if (!meta) return undefined;
    const p = path.join(this.dir, meta.filename);
    try {
      await stat(p);
      return p;
    } catch {
      return undefined;
    }
  }

  async read(id: string): Promise<{ data: Uint8Array; contentType: string } | undefined> {
    const meta = await this.meta(id);
    const p = meta && (await this.pathOf(id));
    if (!meta || !p) return undefined;
    return { data: new Uint8Array(await readFile(p)), contentType: meta.contentType };
  }

  /** Removes a stored file and its metadata (unknown ids are ignored). */
  async delete(id: string): Promise<void> {
    const meta = await this.meta(id);
    if (!meta) return;
    await rm(path.join(this.dir, meta.filename), { force: true });
    await rm(path.join(this.dir, `${id}.json`), { force: true });
  }
}
