// ComfyUI's input / output / temp folders on top of maskflow's storage: uploads land in
// <data>/comfy/<type>/<subfolder>/<name> (never outside it); job outputs stay in maskflow's
// file store and are named <prefix>_<file id>.<ext>, which /view maps back to the id.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { sniff } from '../api/uploads.js';
import { HttpError } from '../http-errors.js';
import type { LocalFileStore } from '../storage/local-file-store.js';

export type FolderType = 'input' | 'output' | 'temp';
export const FOLDER_TYPES: readonly FolderType[] = ['input', 'output', 'temp'];

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|avif)$/i;
/** A stored output's name ends in _<24-char file id>.<ext>. */
const STORED_NAME = /_([A-Za-z0-9_-]{24})\.[a-z0-9]+$/;

export interface ImageLimits {
  maxImageBytes: number;
  maxImagePixels: number;
}

export interface UploadIndex {
  uploadByHash(sha256: string): string | undefined;
  putUploadHash(sha256: string, id: string): void;
}

/** ComfyUI's "name.png [output]" annotation. */
export function parseAnnotated(name: string): { name: string; type?: FolderType } {
  const m = /^(.*) \[(input|output|temp)\]$/.exec(name);
  return m ? { name: m[1]!, type: m[2] as FolderType } : { name };
}

const cleanPart = (s: string) => s.replace(/[^A-Za-z0-9 _.()-]/g, '_').replace(/^\.+/, '_');

/** filename_prefix "a/b" -> subfolder "a", base "b" (sanitised). */
export function splitPrefix(prefix: string): { subfolder: string; base: string } {
  const parts = prefix.split(/[\\/]+/).filter((p) => p && p !== '.' && p !== '..').map(cleanPart);
  const base = parts.pop() || 'ComfyUI';
  return { subfolder: parts.join('/'), base };
}

export class ComfyFiles {
  constructor(
    readonly root: string,
    private readonly store: LocalFileStore,
    private readonly limits: ImageLimits,
    private readonly index?: UploadIndex,
  ) {}

  dir(type: FolderType): string {
    return path.join(this.root, type);
  }

  /**
   * A file in a folder, refusing anything that leaves it: "..", absolute names, separators in
   * the name (400), and a subfolder escaping the folder (403), as ComfyUI's /view does.
   */
  resolve(filename: string, subfolder: string, type: FolderType): string {
    if (!filename || filename.startsWith('/') || filename.includes('..') || /[\\/\0]/.test(filename)) {
      throw new HttpError(400, 'invalid_filename', 'filename must be a plain file name', 'filename');
    }
    const dir = path.resolve(this.dir(type));
    const sub = path.resolve(dir, subfolder || '.');
    if (subfolder.includes('\0') || (sub !== dir && !sub.startsWith(dir + path.sep))) throw new HttpError(403, 'forbidden', 'subfolder leaves the folder', 'subfolder');
    return path.join(sub, filename);
  }

  /** The file id of a stored output named <prefix>_<id>.<ext>, when that file exists. */
  async storedId(filename: string): Promise<string | undefined> {
    const id = STORED_NAME.exec(filename)?.[1];
    return id && (await this.store.meta(id)) ? id : undefined;
  }

  outputName(prefix: string, storedFilename: string): { filename: string; subfolder: string } {
    const { subfolder, base } = splitPrefix(prefix);
    return { filename: `${base}_${storedFilename}`, subfolder };
  }

  /** Image files of the input folder, as LoadImage lists them (subfolder/name). */
  async listInputs(): Promise<string[]> {
    const root = this.dir('input');
    const out: string[] = [];
    const walk = async (dir: string, rel: string, depth: number) => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        if (e.isDirectory() && depth < 8) await walk(path.join(dir, e.name), rel ? `${rel}/${e.name}` : e.name, depth + 1);
        else if (e.isFile() && IMAGE_EXT.test(e.name)) out.push(rel ? `${rel}/${e.name}` : e.name);
      }
    };
    await walk(root, '', 0);
    return out.sort();
  }

  /** Bytes of an image named as ComfyUI names files (LoadImage values, original_ref). */
  async read(name: string, subfolder: string, type: FolderType): Promise<Uint8Array> {
    if (type !== 'input') {
      const id = await this.storedId(name);
      const stored = id && (await this.store.read(id));
      if (stored) return stored.data;
    }
    const file = this.resolve(name, subfolder, type);
    try {
      return new Uint8Array(await readFile(file));
    } catch {
      throw new HttpError(404, 'not_found', `${type} file "${subfolder ? `${subfolder}/` : ''}${name}" not found`, 'filename');
    }
  }

  /** LoadImage's value ("sub/x.png", "x.png [output]") -> a maskflow image source (upload:<id>), stored once per content. */
  async importInput(value: string): Promise<string> {
    const { name, type } = parseAnnotated(value);
    const slash = name.lastIndexOf('/');
    const data = await this.read(name.slice(slash + 1), slash >= 0 ? name.slice(0, slash) : '', type ?? 'input');
    const sha = createHash('sha256').update(data).digest('hex');
    const known = this.index?.uploadByHash(sha);
    if (known && (await this.store.meta(known))) return `upload:${known}`;
    const kind = await this.checkImage(data);
    const stored = await this.store.save(data, kind);
    this.index?.putUploadHash(sha, stored.id);
    return `upload:${stored.id}`;
  }

  /** The checks every maskflow upload gets: a real image (by its bytes), within size and pixel limits. */
  async checkImage(data: Uint8Array): Promise<{ contentType: string; ext: string }> {
    const kind = sniff(data);
    if (!kind || !kind.contentType.startsWith('image/')) throw new HttpError(415, 'unsupported_media_type', 'only PNG, JPEG, WebP and GIF images can be uploaded', 'image');
    if (data.length > this.limits.maxImageBytes) throw new HttpError(413, 'payload_too_large', `images may be at most ${this.limits.maxImageBytes} bytes`, 'image');
    let meta: sharp.Metadata;
    try {
      meta = await sharp(data).metadata();
    } catch (err) {
      throw new HttpError(400, 'image_invalid', `the image cannot be decoded: ${(err as Error).message}`, 'image');
    }
    if ((meta.width ?? 0) * (meta.height ?? 0) > this.limits.maxImagePixels) {
      throw new HttpError(413, 'image_too_large', `${meta.width}x${meta.height} is more than the limit of ${this.limits.maxImagePixels} pixels`, 'image');
    }
    return kind;
  }

  /**
   * ComfyUI's image_upload: saves under <type>/<subfolder>/<filename>; without overwrite an
   * existing different file makes "name (1).ext" (an identical one is reused).
   * `content` builds the bytes to write (the mask variant composes them).
   */
  async save(data: Uint8Array, filename: string, subfolder: string, type: FolderType, overwrite: boolean, content?: () => Promise<Uint8Array>) {
    let file = this.resolve(filename, subfolder, type);
    await mkdir(path.dirname(file), { recursive: true });
    const ext = path.extname(filename);
    const stem = filename.slice(0, filename.length - ext.length);
    let name = filename;
    let duplicate = false;
    if (!overwrite) {
      for (let i = 1; existsSync(file); i++) {
        if ((await stat(file)).isFile() && Buffer.from(await readFile(file)).equals(Buffer.from(data))) {
          duplicate = true;
          break;
        }
        name = `${stem} (${i})${ext}`;
        file = path.join(path.dirname(file), name);
      }
    }
    if (!duplicate) await writeFile(file, content ? await content() : data);
    return { name, subfolder, type };
  }

  /** ComfyUI's /upload/mask: the original (RGBA) with the alpha channel of the uploaded mask. */
  async composeMask(mask: Uint8Array, original: Uint8Array): Promise<Uint8Array> {
    const orig = sharp(original).ensureAlpha();
    const { width, height } = await sharp(original).metadata();
    const alpha = await sharp(mask).ensureAlpha().extractChannel(3).raw().toBuffer({ resolveWithObject: true });
    if (alpha.info.width !== width || alpha.info.height !== height) {
      throw new HttpError(400, 'mask_size_mismatch', `the mask is ${alpha.info.width}x${alpha.info.height} but the original is ${width}x${height}`, 'image');
    }
    const rgb = await orig.removeAlpha().raw().toBuffer();
    return new Uint8Array(
      await sharp(rgb, { raw: { width: width!, height: height!, channels: 3 } })
        .joinChannel(alpha.data, { raw: { width: width!, height: height!, channels: 1 } })
        .png({ compressionLevel: 4 })
        .toBuffer(),
    );
  }
}
