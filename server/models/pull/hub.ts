// Hugging Face Hub client, the subset huggingface_hub uses to download a repo snapshot:
//   GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true  -> commit `sha` and `siblings`
//       (rfilename, size, blobId = git blob sha1, lfs.{sha256,size} for LFS files)
//   GET {endpoint}/{repo}/resolve/{commit}/{file}                -> the bytes, usually via a redirect
//       to a CDN; the first answer carries X-Repo-Commit, X-Linked-Etag, X-Linked-Size.
// HF_ENDPOINT is operator configuration, so its host is admitted by the address policy; where
// the Hub redirects to is vetted like any other URL.
import { NodeError } from '../../engine/errors.js';
import { safeFetch, type Resolver } from '../../image/fetch.js';

export interface HubFile {
  /** Path inside the repo, '/'-separated. */
  path: string;
  size: number;
  /** Git blob sha1 (non-LFS files are checked against it). */
  blobId?: string;
  /** sha256 of an LFS file's content. */
  lfsSha256?: string;
}

export interface HubRepoInfo {
  repo: string;
  revision: string;
  /** Commit the revision pointed at; files are fetched from it so a moving branch cannot mix versions. */
  commit: string;
  files: HubFile[];
}

export interface HubOptions {
  endpoint: string;
  token?: string;
  urlAllowlist: readonly string[];
  timeoutMs: number;
  maxRedirects: number;
  resolve?: Resolver;
  signal?: AbortSignal;
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `owner/name[@revision]`, or undefined when the text is not a repo id. */
export function parseRepoRef(text: string): { repo: string; revision: string } | undefined {
  const at = text.indexOf('@');
  const repo = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? 'main' : text.slice(at + 1);
  if (!REPO_ID.test(repo) || repo.includes('..') || !revision) return undefined;
  return { repo, revision };
}

/** A repo path we may write under a model folder: relative, no '..', no backslashes or control characters. */
export function isSafeRepoPath(p: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (!p || p.startsWith('/') || p.includes('\\') || /[\x00-\x1f]/.test(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

function quotePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

export class HubClient {
  readonly endpoint: string;
  /** The endpoint's host:port, added to the address allow-list. */
  readonly allowlist: readonly string[];

  constructor(private readonly opts: HubOptions) {
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    let u: URL;
    try {
      u = new URL(this.endpoint);
    } catch {
      throw new NodeError('hub_endpoint_invalid', `HF_ENDPOINT "${opts.endpoint}" is not a URL`);
    }
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    const host = u.hostname.includes(':') ? `[${u.hostname.replace(/^\[|\]$/g, '')}]` : u.hostname;
    this.allowlist = [...opts.urlAllowlist, `${host}:${port}`];
  }

  /** Authorization for the endpoint (safeFetch drops it on a redirect to another origin). */
  headers(): Record<string, string> {
    return this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {};
  }

  fileUrl(repo: string, commit: string, file: string): string {
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${quotePath(file)}`;
  }

  async repoInfo(repo: string, revision: string): Promise<HubRepoInfo> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
    let errorCode: string | undefined;
    let body: Uint8Array;
    try {
      ({ bytes: body } = await safeFetch(url, {
        allowlist: this.allowlist,
        maxBytes: 64 * 1024 * 1024,
        timeoutMs: this.opts.timeoutMs,
        maxRedirects: this.opts.maxRedirects,
        headers: { ...this.headers(), accept: 'application/json' },
        signal: this.opts.signal,
        ...(this.opts.resolve ? { resolve: this.opts.resolve } : {}),
        onResponse: (_status, h) => {
          errorCode = typeof h['x-error-code'] === 'string' ? h['x-error-code'] : errorCode;
        },
      }));
    } catch (err) {
      throw this.explain(err, repo, revision, errorCode);
    }
    let json: { sha?: unknown; siblings?: unknown };
    try {
      json = JSON.parse(Buffer.from(body).toString('utf8')) as typeof json;
    } catch {
      throw new NodeError('hub_bad_response', `the Hub at ${this.endpoint} answered ${repo}@${revision} with something that is not JSON`);
    }
    if (typeof json.sha !== 'string' || !/^[0-9a-f]{40}$/.test(json.sha) || !Array.isArray(json.siblings))
      throw new NodeError('hub_bad_response', `the Hub's answer for ${repo}@${revision} has no commit sha or file list (siblings)`);
    const files: HubFile[] = [];
    for (const s of json.siblings as Array<Record<string, unknown>>) {
      const p = s?.rfilename;
      if (typeof p !== 'string') continue;
      if (!isSafeRepoPath(p)) throw new NodeError('hub_bad_response', `the Hub listed an unsafe file path "${p.slice(0, 200)}" in ${repo}`);
      const lfs = s.lfs as { sha256?: unknown; size?: unknown } | undefined;
      const size = typeof lfs?.size === 'number' ? lfs.size : typeof s.size === 'number' ? s.size : NaN;
      files.push({
        path: p,
        size,
        ...(typeof s.blobId === 'string' ? { blobId: s.blobId } : {}),
        ...(typeof lfs?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(lfs.sha256) ? { lfsSha256: lfs.sha256 } : {}),
      });
    }
    return { repo, revision, commit: json.sha, files };
  }

  /** Hub HTTP errors as messages a user can act on (401/403 = gated or private, needs HF_TOKEN). */
  explain(err: unknown, repo: string, revision: string, errorCode?: string): unknown {
    if (!(err instanceof NodeError) || err.code !== 'url_http_error') return err;
    const status = err.details.status;
    if (status === 401 || status === 403) {
      if (errorCode === 'RepoNotFound')
        return new NodeError('hub_repo_not_found', `Hub repo "${repo}" was not found (if it is private, set HF_TOKEN to a token with access)`, { status: 404, repo });
      const why = this.opts.token
        ? `HF_TOKEN was sent but has no access to "${repo}" (accept its terms on the Hub or use another token)`
        : `this repo needs HF_TOKEN with access: "${repo}" is gated or private; set HF_TOKEN to a Hugging Face token that has accepted its terms`;
      return new NodeError('hub_auth_required', `${why} (HTTP ${status})`, { status: 403, repo });
    }
    if (status === 404) {
      const what = errorCode === 'RevisionNotFound' ? `revision "${revision}" of "${repo}"` : errorCode === 'EntryNotFound' ? `a file of "${repo}"` : `Hub repo "${repo}" (revision "${revision}")`;
      return new NodeError('hub_repo_not_found', `${what} was not found at ${this.endpoint}`, { status: 404, repo });
    }
    return new NodeError('hub_http_error', `the Hub answered HTTP ${status} for "${repo}": ${err.message}`, { status: 502, repo });
  }
}
