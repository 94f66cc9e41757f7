// `maskflow models pull` and POST /v1/models/pull: installs a model from the Hugging Face Hub
// (a diffusers or Optimum ONNX repo into <modelsDir>/<name>/, a single-file repo into
// <modelsDir>/checkpoints/<name>.safetensors) or from a direct https URL (a safetensors
// checkpoint). Files are staged under hidden names, each verified (size, sha256 or git blob
// hash, safetensors header), and only then moved into place, so the catalogue never sees a
// half-installed model. An interrupted pull run again resumes from the staged bytes.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { NodeError } from '../../engine/errors.js';
import type { Config } from '../../config.js';
import type { Resolver } from '../../image/fetch.js';
import { sha256OfFile } from '../../storage/file-hash.js';
import { SafetensorsFile } from '../safetensors.js';
import { assertFreeSpace, downloadVerified, partPaths, type DownloadNet, type DownloadResult } from './download.js';
import { HubClient, parseRepoRef, type HubFile } from './hub.js';
import {
  CHECKPOINTS_DIR,
  installPath,
  provenancePath,
  readProvenance,
  writeProvenance,
  type Provenance,
  type ProvenanceFile,
  type PullSource,
} from './provenance.js';
import { selectFiles, type PulledFormat } from './select-files.js';
import { contentDispositionName, nameFromFile, redactUrl, validateModelName } from './names.js';
import { lockTarget } from './target-lock.js';

export interface PullRequest {
  /** `owner/name[@revision]` on the Hub, or an http(s) URL of a safetensors file. */
  source: string;
  /** Installed name (folder or checkpoint file name without .safetensors). */
  name?: string;
  /** A single file of a Hub repo to install as a checkpoint. */
  file?: string;
  /** Optional diffusers components (safety_checker, feature_extractor, image_encoder). */
  include?: string[];
  /** Expected sha256 of a URL download. */
  sha256?: string;
}

export interface PullSettings {
  modelsDir: string;
  hfEndpoint: string;
  hfToken?: string;
  urlAllowlist: readonly string[];
  /** Largest file a pull accepts. */
  maxFileBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  resolve?: Resolver;
  freeBytes?: (dir: string) => Promise<number>;
  retries?: number;
  retryDelayMs?: number;
}

export interface PullProgress {
  phase: 'resolving' | 'downloading' | 'installing' | 'done';
  /** Current file (repo path or URL file name). */
  file?: string;
  fileIndex: number;
  fileCount: number;
  fileBytes: number;
  fileTotal?: number;
  /** Bytes on disk over all files (including resumed ones). */
  bytes: number;
  total?: number;
}

export interface PullResult {
  name: string;
  format: PulledFormat;
  path: string;
  provenancePath: string;
  source: PullSource;
  files: ProvenanceFile[];
  /** Bytes fetched by this pull (resumed and already-installed bytes excluded). */
  bytesDownloaded: number;
  resumedBytes: number;
  /** The same model (same source commit or URL and hashes) was already installed. */
  alreadyInstalled: boolean;
}

const MAX_HEADER = 100 * 1024 * 1024;

/** The first 9 bytes of a safetensors file: a sane u64 header length, then '{'. */
function safetensorsPrefix(label: string): (prefix: Buffer) => void {
  return (b) => {
    const n = b.length >= 8 ? Number(b.readBigUInt64LE(0)) : -1;
    if (b.length < 9 || n < 2 || n > MAX_HEADER || b[8] !== 0x7b)
      throw new NodeError('pull_not_safetensors', `${label} is not a safetensors file (checked by its header, not its name); maskflow only installs safetensors`, { file: label });
  };
}

async function assertSafetensors(file: string, label: string): Promise<void> {
  try {
    const st = await SafetensorsFile.open(file, label);
    await st.close();
  } catch (err) {
    await rm(file, { force: true });
    throw new NodeError('pull_not_safetensors', `${label} is not a valid safetensors file: ${(err as Error).message}; it was deleted`, { file: label });
  }
}

export async function pullModel(
  req: PullRequest,
  s: PullSettings,
  opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void } = {},
): Promise<PullResult> {
  const src = req.source?.trim() ?? '';
  if (req.name !== undefined) validateModelName(req.name);
  if (req.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(req.sha256))
    throw new NodeError('invalid_param', 'sha256 must be 64 lower-case hex digits', { param: 'sha256' });
  if (/^https?:\/\//i.test(src)) {
    if (req.file !== undefined) throw new NodeError('invalid_param', '"file" applies to Hub repos only; a URL is one file', { param: 'file' });
    return pullUrl(src, req, s, opts);
  }
  const ref = parseRepoRef(src);
  if (!ref)
    throw new NodeError('invalid_param', `source "${src.slice(0, 200)}" is neither a Hub repo id (owner/name[@revision]) nor an http(s) URL`, { param: 'source' });
  return pullHub(ref.repo, ref.revision, req, s, opts);
}

function netOf(s: PullSettings, allowlist: readonly string[]): DownloadNet {
  return {
    allowlist,
    maxBytes: s.maxFileBytes,
    timeoutMs: s.timeoutMs,
    maxRedirects: s.maxRedirects,
    retries: s.retries ?? 5,
    retryDelayMs: s.retryDelayMs ?? 500,
    ...(s.resolve ? { resolve: s.resolve } : {}),
    ...(s.freeBytes ? { freeBytes: s.freeBytes } : {}),
  };
}

/** Same source and same file hashes as the pull about to happen: nothing to do. */
async function alreadyInstalled(target: string, format: PulledFormat, same: (p: Provenance) => boolean): Promise<Provenance | undefined> {
  if (!existsSync(target)) return undefined;
  const p = await readProvenance(provenancePath(target, format));
  if (p && p.format === format && same(p)) return p;
  throw new NodeError('model_exists', `a model is already installed at ${target}; delete it first or pull under another name`, { param: 'name', status: 409 });
}

async function pullHub(
  repo: string,
  revision: string,
  req: PullRequest,
  s: PullSettings,
  opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void },
): Promise<PullResult> {
  const hub = new HubClient({
    endpoint: s.hfEndpoint,
    ...(s.hfToken ? { token: s.hfToken } : {}),
    urlAllowlist: s.urlAllowlist,
    timeoutMs: s.timeoutMs,
    maxRedirects: s.maxRedirects,
    ...(s.resolve ? { resolve: s.resolve } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  opts.onProgress?.({ phase: 'resolving', fileIndex: 0, fileCount: 0, fileBytes: 0, bytes: 0 });
  const info = await hub.repoInfo(repo, revision);
  const sel = selectFiles(info.files, { ...(req.file ? { file: req.file } : {}), ...(req.include ? { include: req.include } : {}) });
  for (const f of sel.files)
    if (!Number.isFinite(f.size)) throw new NodeError('hub_bad_response', `the Hub listed no size for ${f.path}; cannot verify it`);
  const name = validateModelName(req.name ?? (sel.format === 'checkpoint' ? nameFromFile(path.posix.basename(sel.files[0]!.path)) : nameFromFile(repo.split('/')[1]!)));
  const target = installPath(s.modelsDir, name, sel.format);
  const source: PullSource = { type: 'hub', endpoint: hub.endpoint, repo, revision, commit: info.commit, ...(sel.variant ? { variant: sel.variant } : {}) };
  const done = await alreadyInstalled(target, sel.format, (p) => p.source.type === 'hub' && p.source.repo === repo && p.source.commit === info.commit && sameFiles(p, sel.files, sel.format));
  if (done) return result(name, sel.format, target, done, 0, 0, true);

  // Staging: a hidden folder (or hidden file name) beside the target, on the same filesystem.
  const staging = sel.format === 'checkpoint' ? path.join(s.modelsDir, CHECKPOINTS_DIR) : path.join(s.modelsDir, `.pull-${name}`);
  const stagedPath = (f: HubFile) => (sel.format === 'checkpoint' ? path.join(staging, `.pull-${name}.safetensors`) : path.join(staging, ...f.path.split('/')));
  await mkdir(staging, { recursive: true });
  const unlock = await lockTarget(path.join(s.modelsDir, `.pull-${name}.lock`), `"${name}"`);
  try {
    return await installHub(name, sel, target, staging, stagedPath, { hub, repo, revision, info, source }, s, opts);
  } finally {
    await unlock();
  }
}

async function installHub(
  name: string,
  sel: ReturnType<typeof selectFiles>,
  target: string,
  staging: string,
  stagedPath: (f: HubFile) => string,
  ctx: { hub: HubClient; repo: string; revision: string; info: { commit: string }; source: PullSource },
  s: PullSettings,
  opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void },
): Promise<PullResult> {
  const { hub, repo, revision, info, source } = ctx;
  // model_index.json first: it tells an SDXL pipeline from another before gigabytes are fetched.
  sel.files.sort((a, b) => Number(b.path === 'model_index.json') - Number(a.path === 'model_index.json'));
  const total = sel.files.reduce((a, f) => a + f.size, 0);
  let already = 0;
  for (const f of sel.files) already += await stagedBytes(stagedPath(f));
  await assertFreeSpace(s.modelsDir, Math.max(0, total - already), s.freeBytes);

  const net = netOf(s, hub.allowlist);
  const files: ProvenanceFile[] = [];
  let finished = 0;
  let downloaded = 0;
  let resumed = 0;
  for (const [i, f] of sel.files.entries()) {
    const dest = stagedPath(f);
    const report = (fileBytes: number, phase: PullProgress['phase'] = 'downloading') =>
      opts.onProgress?.({ phase, file: f.path, fileIndex: i, fileCount: sel.files.length, fileBytes, fileTotal: f.size, bytes: finished + fileBytes, total });
    let sha256 = await verifiedStaged(dest, f);
    if (sha256) report(f.size);
    else {
      const isWeights = f.path.endsWith('.safetensors');
      const r: DownloadResult = await downloadVerified(
        {
          url: hub.fileUrl(repo, info.commit, f.path),
          dest,
          label: `${repo}/${f.path}`,
          expectedSize: f.size,
          ...(f.lfsSha256 ? { expectedSha256: f.lfsSha256 } : f.blobId ? { expectedGitSha1: f.blobId } : {}),
          headers: hub.headers(),
          checkHeaders: hubConsistency(`${repo}/${f.path}`, info.commit, f.lfsSha256),
          ...(isWeights ? { checkPrefix: safetensorsPrefix(`${repo}/${f.path}`), prefixBytes: 9 } : {}),
        },
        net,
        { ...(opts.signal ? { signal: opts.signal } : {}), onBytes: (n) => report(n) },
      ).catch((err: unknown) => {
        throw hub.explain(err, repo, revision);
      });
      if (isWeights) await assertSafetensors(dest, `${repo}/${f.path}`);
      sha256 = r.sha256;
      downloaded += r.size - r.resumedFrom;
      resumed += r.resumedFrom;
    }
    if (f.path === 'model_index.json') await assertSdxlPipeline(dest, repo);
    finished += f.size;
    files.push({ path: sel.format === 'checkpoint' ? `${name}.safetensors` : f.path, source: f.path, size: f.size, sha256 });
  }

  opts.onProgress?.({ phase: 'installing', fileIndex: sel.files.length, fileCount: sel.files.length, fileBytes: 0, bytes: total, total });
  const provenance: Provenance = { maskflowProvenance: 1, name, format: sel.format, source, pulledAt: new Date().toISOString(), files };
  // Re-checked right before the move: another pull may have installed the name meanwhile.
  if (existsSync(target)) throw new NodeError('model_exists', `a model is already installed at ${target}; delete it first or pull under another name`, { param: 'name', status: 409 });
  if (sel.format === 'checkpoint') {
    await rename(stagedPath(sel.files[0]!), target);
    await writeProvenance(provenancePath(target, 'checkpoint'), provenance);
  } else {
    await removeUnlisted(staging, new Set(sel.files.map((f) => path.join(staging, ...f.path.split('/')))));
    await writeProvenance(path.join(staging, 'maskflow-source.json'), provenance);
    await rename(staging, target);
  }
  opts.onProgress?.({ phase: 'done', fileIndex: sel.files.length, fileCount: sel.files.length, fileBytes: 0, bytes: total, total });
  return result(name, sel.format, target, provenance, downloaded, resumed, false);
}

/** maskflow runs SDXL pipelines (diffusers' StableDiffusionXL*Pipeline, Optimum's ORTStableDiffusionXL*Pipeline). */
async function assertSdxlPipeline(file: string, repo: string): Promise<void> {
  let cls: unknown;
  try {
    cls = (JSON.parse(await readFile(file, 'utf8')) as { _class_name?: unknown })._class_name;
  } catch {
    throw new NodeError('pull_not_sdxl', `${repo}: model_index.json is not valid JSON`);
  }
  if (typeof cls !== 'string' || !/StableDiffusionXL/.test(cls))
    throw new NodeError('pull_not_sdxl', `${repo} is a ${typeof cls === 'string' ? cls : 'pipeline without _class_name'}; maskflow runs SDXL pipelines (StableDiffusionXL…Pipeline)`);
}

/** Files an earlier, different pull left in the staging folder (other components, other variants). */
async function removeUnlisted(dir: string, keep: Set<string>): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      await removeUnlisted(p, keep);
      if (!(await readdir(p)).length) await rm(p, { recursive: true, force: true });
    } else if (!keep.has(p)) await rm(p, { force: true });
  }
}

/**
 * The Hub's resolve answer names the commit it served (X-Repo-Commit) and, for LFS files, the
 * sha256 (X-Linked-Etag): both must match the listing, or the bytes would be checked against the
 * wrong hash. Servers that send neither (plain mirrors) are accepted.
 */
function hubConsistency(label: string, commit: string, lfsSha256: string | undefined): (status: number, h: IncomingHttpHeaders) => void {
  return (_status, h) => {
    const served = typeof h['x-repo-commit'] === 'string' ? h['x-repo-commit'] : undefined;
    if (served && served !== commit) throw new NodeError('hub_inconsistent', `${label}: the Hub served commit ${served} but the listing was for ${commit}; pull again`);
    const linked = typeof h['x-linked-etag'] === 'string' ? h['x-linked-etag'].replace(/^W\//, '').replace(/"/g, '') : undefined;
    if (linked && lfsSha256 && /^[0-9a-f]{64}$/.test(linked) && linked !== lfsSha256)
      throw new NodeError('hub_inconsistent', `${label}: the Hub links sha256 ${linked} but lists ${lfsSha256}; pull again`);
  };
}

function sameFiles(p: Provenance, files: HubFile[], format: PulledFormat): boolean {
  if (p.files.length !== files.length) return false;
  const bySource = new Map(p.files.map((f) => [f.source, f]));
  return files.every((f) => {
    const r = bySource.get(f.path);
    return r !== undefined && r.size === f.size && (!f.lfsSha256 || r.sha256 === f.lfsSha256) && (format !== 'checkpoint' || r.path.endsWith('.safetensors'));
  });
}

/** Bytes of a file staged by an earlier, interrupted run (complete or partial). */
async function stagedBytes(dest: string): Promise<number> {
  for (const p of [dest, partPaths(dest).part]) {
    try {
      return (await stat(p)).size;
    } catch {
      /* next */
    }
  }
  return 0;
}

/** sha256 of a file an interrupted run already finished and verified, if it still matches. */
async function verifiedStaged(dest: string, f: HubFile): Promise<string | undefined> {
  try {
    if ((await stat(dest)).size !== f.size) return undefined;
  } catch {
    return undefined;
  }
  const sha = await sha256OfFile(dest);
  if (f.lfsSha256 ? sha === f.lfsSha256 : f.blobId ? await gitSha1OfFile(dest, f.blobId) : false) return sha;
  await rm(dest, { force: true });
  return undefined;
}

async function gitSha1OfFile(file: string, expected: string): Promise<boolean> {
  const bytes = await readFile(file);
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex') === expected;
}

function result(name: string, format: PulledFormat, target: string, p: Provenance, downloaded: number, resumed: number, alreadyInstalled: boolean): PullResult {
  return { name, format, path: target, provenancePath: provenancePath(target, format), source: p.source, files: p.files, bytesDownloaded: downloaded, resumedBytes: resumed, alreadyInstalled };
}

async function pullUrl(url: string, req: PullRequest, s: PullSettings, opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void }): Promise<PullResult> {
  const ckpts = path.join(s.modelsDir, CHECKPOINTS_DIR);
  await mkdir(ckpts, { recursive: true });
  const sameUrl = (p: Provenance) => p.source.type === 'url' && p.source.url === redactUrl(url) && (!req.sha256 || p.files[0]?.sha256 === req.sha256);
  if (req.name) {
    const done = await alreadyInstalled(installPath(s.modelsDir, req.name, 'checkpoint'), 'checkpoint', sameUrl);
    if (done) return result(req.name, 'checkpoint', installPath(s.modelsDir, req.name, 'checkpoint'), done, 0, 0, true);
  }
  const staged = path.join(ckpts, `.url-${createHash('sha256').update(url).digest('hex').slice(0, 32)}.safetensors`);
  const unlock = await lockTarget(`${staged}.lock`, url);
  try {
    return await installUrl(url, staged, req, s, opts);
  } finally {
    await unlock();
  }
}

async function installUrl(url: string, staged: string, req: PullRequest, s: PullSettings, opts: { signal?: AbortSignal; onProgress?: (p: PullProgress) => void }): Promise<PullResult> {
  const label = decodeURIComponent(new URL(url).pathname.split('/').pop() || url);
  opts.onProgress?.({ phase: 'downloading', file: label, fileIndex: 0, fileCount: 1, fileBytes: 0, bytes: 0 });
  const r = await downloadVerified(
    { url, dest: staged, label, ...(req.sha256 ? { expectedSha256: req.sha256 } : {}), checkPrefix: safetensorsPrefix(label), prefixBytes: 9 },
    netOf(s, s.urlAllowlist),
    {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onBytes: (n, t) => opts.onProgress?.({ phase: 'downloading', file: label, fileIndex: 0, fileCount: 1, fileBytes: n, ...(t !== undefined ? { fileTotal: t, total: t } : {}), bytes: n }),
    },
  );
  await assertSafetensors(staged, label);
  const final = [...r.responses].reverse().find((x) => x.status >= 200 && x.status < 300);
  const cd = final ? contentDispositionName(typeof final.headers['content-disposition'] === 'string' ? final.headers['content-disposition'] : undefined) : undefined;
  const finalUrl = final?.url ?? url;
  const fileName = cd ?? decodeURIComponent(new URL(finalUrl).pathname.split('/').pop() || 'model');
  const name = validateModelName(req.name ?? nameFromFile(fileName));
  const target = installPath(s.modelsDir, name, 'checkpoint');
  const files: ProvenanceFile[] = [{ path: `${name}.safetensors`, source: redactUrl(url), size: r.size, sha256: r.sha256 }];
  // A signed CDN URL's query is a short-lived credential: recorded without it.
  const source: PullSource = { type: 'url', url: redactUrl(url), finalUrl: finalUrl.split('?')[0]!, ...(cd ? { filename: cd } : {}) };
  const provenance: Provenance = { maskflowProvenance: 1, name, format: 'checkpoint', source, pulledAt: new Date().toISOString(), files };
  if (existsSync(target)) {
    const p = await readProvenance(provenancePath(target, 'checkpoint'));
    await rm(staged, { force: true });
    if (p?.files[0]?.sha256 === r.sha256) return result(name, 'checkpoint', target, p, r.size - r.resumedFrom, r.resumedFrom, true);
    throw new NodeError('model_exists', `a model is already installed at ${target}; delete it first or pull under another name`, { param: 'name', status: 409 });
  }
  opts.onProgress?.({ phase: 'installing', file: label, fileIndex: 1, fileCount: 1, fileBytes: r.size, fileTotal: r.size, bytes: r.size, total: r.size });
  await rename(staged, target);
  await writeProvenance(provenancePath(target, 'checkpoint'), provenance);
  opts.onProgress?.({ phase: 'done', fileIndex: 1, fileCount: 1, fileBytes: r.size, fileTotal: r.size, bytes: r.size, total: r.size });
  return result(name, 'checkpoint', target, provenance, r.size - r.resumedFrom, r.resumedFrom, false);
}

/** Pull settings from the configuration (CLI and server). */
export function pullSettings(c: Pick<Config, 'modelsDir' | 'hfEndpoint' | 'hfToken' | 'urlAllowlist' | 'maxPullFileBytes' | 'modelFetchTimeoutMs' | 'maxRedirects'>): PullSettings {
  return {
    modelsDir: c.modelsDir,
    hfEndpoint: c.hfEndpoint,
    ...(c.hfToken ? { hfToken: c.hfToken } : {}),
    urlAllowlist: c.urlAllowlist,
    maxFileBytes: c.maxPullFileBytes,
    // For a pull this bounds the wait for the first byte and any silence after it, not the whole download.
    timeoutMs: c.modelFetchTimeoutMs,
    maxRedirects: c.maxRedirects,
  };
}
