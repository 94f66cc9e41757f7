// Pulling models from a fake Hugging Face Hub and direct URLs (test/models/helpers/fake-hub.ts):
// file selection (fp16 over fp32, no pickles or safety checker), redirects, a connection cut
// mid-file resumed with Range, hash mismatches, gated repos, Content-Disposition names, the
// address policy, size cap, free-space check, provenance and `verify`; then a pulled ONNX
// model replays a diffusers golden.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NodeError } from '../../server/engine/errors.js';
import { contentDispositionName } from '../../server/models/pull/names.js';
import { pullModel, type PullProgress, type PullSettings } from '../../server/models/pull/pull.js';
import { listPulled, verifyPulled } from '../../server/models/pull/provenance.js';
import { goldenMain } from '../../server/sdxl/golden-cli.js';
import { testStore } from '../sdxl/helpers.js';
import { FakeHub, readTree, sha256 } from './helpers/fake-hub.js';

const FIX = path.resolve('test/fixtures');
const DIFFUSERS = path.join(FIX, 'checkpoints/tiny-sdxl-inpaint-diffusers');
const FP16_FILE = path.join(FIX, 'checkpoints/tiny-sdxl-inpaint.fp16.safetensors');
const ONNX = path.join(FIX, 'models/tiny-sdxl-inpaint');

let hub: FakeHub;
let tmp: string;
let models: string;

function settings(over: Partial<PullSettings> = {}): PullSettings {
  return { modelsDir: models, hfEndpoint: hub.url, urlAllowlist: [], maxFileBytes: 1 << 30, timeoutMs: 10_000, maxRedirects: 5, retryDelayMs: 10, ...over };
}

async function rejects(p: Promise<unknown>): Promise<NodeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(NodeError);
    return e as NodeError;
  }
  throw new Error('expected the pull to fail');
}

/** Everything under the models folder, hidden staging files included. */
async function tree(dir = models): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

const diffusersFiles = readTree(DIFFUSERS);
const fp16Bytes = await readFile(FP16_FILE);

beforeAll(async () => {
  hub = await new FakeHub().start();
  // A diffusers repo as on the Hub: fp32 + fp16 variants, plus what must not be pulled.
  const withExtras = new Map(diffusersFiles);
  withExtras.set('unet/diffusion_pytorch_model.bin', Buffer.from('pickle, never installed'));
  withExtras.set('safety_checker/config.json', Buffer.from('{}'));
  withExtras.set('safety_checker/model.safetensors', diffusersFiles.get('text_encoder/model.safetensors')!);
  withExtras.set('feature_extractor/preprocessor_config.json', Buffer.from('{}'));
  withExtras.set('README.md', Buffer.from('# tiny'));
  withExtras.set('sd_xl_tiny.safetensors', fp16Bytes);
  hub.addRepo('maskflow/tiny-sdxl-inpaint-diffusers', withExtras);
  hub.addRepo('maskflow/corrupt-diffusers', new Map(diffusersFiles), { corrupt: ['unet/diffusion_pytorch_model.fp16.safetensors'] });
  const sd15 = new Map(diffusersFiles);
  sd15.set('model_index.json', Buffer.from(JSON.stringify({ _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.27.2' })));
  hub.addRepo('maskflow/sd15', sd15);
  hub.addRepo('maskflow/inconsistent', new Map([['tiny.safetensors', fp16Bytes]]), { wrongLinkedEtag: ['tiny.safetensors'] });
  hub.addRepo('maskflow/gated-ckpt', new Map([['tiny.fp16.safetensors', fp16Bytes]]), { gated: true });
  hub.addRepo('maskflow/many-ckpts', new Map([['a.safetensors', fp16Bytes], ['b.safetensors', diffusersFiles.get('vae/diffusion_pytorch_model.safetensors')!], ['notes.txt', Buffer.from('x')]]));
  hub.addRepo('maskflow/pickle-only', new Map([['model.ckpt', Buffer.from('pickle')], ['x.safetensors', Buffer.from('not really')]]));
  hub.addRepo('maskflow/tiny-sdxl-inpaint', readTree(ONNX));
  hub.direct.set('civitai-123', { body: fp16Bytes, disposition: `attachment; filename="Tiny Inpaint v1.safetensors"; filename*=UTF-8''Tiny%20Inpaint%20%E2%9C%93.safetensors` });
  hub.direct.set('pickle', { body: Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(4096)]), disposition: 'attachment; filename="model.safetensors"' });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mf-pull-'));
  models = path.join(tmp, 'models');
  hub.log.length = 0;
  return () => rm(tmp, { recursive: true, force: true });
});

describe('pull from the Hub', () => {
  it('installs what a diffusers repo needs, fp16 variant, resuming a cut connection with Range', async () => {
    const unet16 = diffusersFiles.get('unet/diffusion_pytorch_model.fp16.safetensors')!;
    hub.cutOnce.add(sha256(unet16));
    const progress: PullProgress[] = [];
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers' }, settings(), { onProgress: (p) => progress.push(p) });

    expect(r.format).toBe('diffusers');
    expect(r.name).toBe('tiny-sdxl-inpaint-diffusers');
    expect(r.path).toBe(path.join(models, 'tiny-sdxl-inpaint-diffusers'));
    const installed = (await tree(r.path)).filter((f) => path.extname(f));
    expect(installed).toEqual(
      [
        'maskflow-source.json',
        'model_index.json',
        'scheduler/scheduler_config.json',
        'text_encoder/config.json',
        'text_encoder/model.fp16.safetensors',
        'text_encoder_2/config.json',
        'text_encoder_2/model.fp16.safetensors',
        'tokenizer/merges.txt',
        'tokenizer/special_tokens_map.json',
        'tokenizer/tokenizer_config.json',
        'tokenizer/vocab.json',
        'tokenizer_2/merges.txt',
        'tokenizer_2/special_tokens_map.json',
        'tokenizer_2/tokenizer_config.json',
        'tokenizer_2/vocab.json',
        'unet/config.json',
        'unet/diffusion_pytorch_model.fp16.safetensors',
        'vae/config.json',
        'vae/diffusion_pytorch_model.fp16.safetensors',
      ].sort(),
    );
    // Bytes equal the fixture's; nothing staged is left behind.
    expect(sha256(await readFile(path.join(r.path, 'unet/diffusion_pytorch_model.fp16.safetensors')))).toBe(sha256(unet16));
    expect((await tree()).filter((f) => f.includes('.pull-') || f.endsWith('.part'))).toEqual([]);

    // The LFS file went through the redirect, was cut, and was resumed from where it stopped.
    const unetReqs = hub.log.filter((q) => q.url === `/cdn/${sha256(unet16)}`);
    expect(unetReqs).toHaveLength(2);
    expect(unetReqs[0]!.range).toBeUndefined();
    // Resumed from the bytes that arrived before the cut (at most the half the server sent).
    const from = Number(/^bytes=(\d+)-$/.exec(unetReqs[1]!.range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(unet16.length >> 1);
    expect(hub.requestsFor('/resolve/').every((q) => q.url.includes(`/resolve/${hub.repos.get('maskflow/tiny-sdxl-inpaint-diffusers')!.commit}/`))).toBe(true);

    // Provenance: source, commit, hashes; verify re-checks them.
    const prov = JSON.parse(await readFile(path.join(r.path, 'maskflow-source.json'), 'utf8'));
    expect(prov.source).toMatchObject({ type: 'hub', repo: 'maskflow/tiny-sdxl-inpaint-diffusers', revision: 'main', commit: hub.repos.get('maskflow/tiny-sdxl-inpaint-diffusers')!.commit, variant: 'fp16' });
    expect(prov.files.find((f: { path: string }) => f.path === 'unet/diffusion_pytorch_model.fp16.safetensors').sha256).toBe(sha256(unet16));
    const [pulled] = await listPulled(models);
    expect(await verifyPulled(pulled!)).toEqual([]);
    await writeFile(path.join(r.path, 'vae/config.json'), '{"changed": true}');
    expect((await verifyPulled(pulled!)).join('\n')).toMatch(/vae\/config.json: .*(bytes|sha256)/);

    // Progress went up to the total, per file and overall.
    const total = progress.at(-1)!.total!;
    expect(progress.at(-1)!.phase).toBe('done');
    expect(total).toBe(r.files.reduce((a, f) => a + f.size, 0));
    expect(progress.some((p) => p.file === 'unet/diffusion_pytorch_model.fp16.safetensors' && p.fileBytes === unet16.length)).toBe(true);
    expect(progress.map((p) => p.bytes)).toEqual([...progress.map((p) => p.bytes)].sort((a, b) => a - b));

    // Another source under an installed name is refused.
    const other = await rejects(pullModel({ source: 'maskflow/tiny-sdxl-inpaint', name: 'tiny-sdxl-inpaint-diffusers' }, settings()));
    expect(other.code).toBe('model_exists');
  });

  it('is a no-op when the same commit is installed already', async () => {
    await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'tiny' }, settings());
    hub.log.length = 0;
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'tiny' }, settings());
    expect(r.alreadyInstalled).toBe(true);
    expect(hub.requestsFor('/cdn/')).toEqual([]);
  });

  it('includes the safety checker only when asked', async () => {
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', include: ['safety_checker', 'feature_extractor'] }, settings());
    const files = await tree(r.path);
    expect(files).toContain('safety_checker/model.safetensors');
    expect(files).toContain('feature_extractor/preprocessor_config.json');
    expect(files.some((f) => f.endsWith('.bin'))).toBe(false);
  });

  it('deletes a file whose bytes do not match its sha256 and installs nothing', async () => {
    const e = await rejects(pullModel({ source: 'maskflow/corrupt-diffusers', name: 'bad' }, settings()));
    expect(e.code).toBe('pull_hash_mismatch');
    expect(e.message).toContain('unet/diffusion_pytorch_model.fp16.safetensors');
    expect(e.message).toMatch(/deleted/);
    expect(existsSync(path.join(models, 'bad'))).toBe(false);
    expect((await tree()).filter((f) => f.includes('unet/diffusion_pytorch_model') || f.endsWith('.part'))).toEqual([]);
    expect(await listPulled(models)).toEqual([]);
  });

  it('answers a gated repo without a token with a message naming HF_TOKEN, and pulls it with one', async () => {
    const e = await rejects(pullModel({ source: 'maskflow/gated-ckpt' }, settings()));
    expect(e.code).toBe('hub_auth_required');
    expect(e.message).toContain('this repo needs HF_TOKEN with access');
    expect(await tree(path.join(models, 'checkpoints'))).toEqual([]);
    hub.log.length = 0;
    const r = await pullModel({ source: 'maskflow/gated-ckpt' }, settings({ hfToken: hub.token }));
    expect(r.format).toBe('checkpoint');
    expect(r.path).toBe(path.join(models, 'checkpoints/tiny.safetensors'));
    expect(existsSync(`${r.path}.source.json`)).toBe(true);
    // The token went to the Hub only.
    expect(hub.requestsFor('/resolve/').every((q) => q.auth === `Bearer ${hub.token}`)).toBe(true);
    const bad = await rejects(pullModel({ source: 'maskflow/gated-ckpt', name: 'x' }, settings({ hfToken: 'wrong' })));
    expect(bad.message).toMatch(/HF_TOKEN was sent but has no access/);
  });

  it('asks for --file when a repo holds several checkpoints, and installs the one named', async () => {
    const e = await rejects(pullModel({ source: 'maskflow/many-ckpts' }, settings()));
    expect(e.code).toBe('pull_needs_file');
    expect(e.message).toContain('a.safetensors, b.safetensors');
    const r = await pullModel({ source: 'maskflow/many-ckpts', file: 'a.safetensors', name: 'mine' }, settings());
    expect(r.path).toBe(path.join(models, 'checkpoints/mine.safetensors'));
    expect(sha256(await readFile(r.path))).toBe(sha256(fp16Bytes));
    // --file in a diffusers repo picks the single file.
    const one = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', file: 'sd_xl_tiny.safetensors' }, settings());
    expect(one.path).toBe(path.join(models, 'checkpoints/sd_xl_tiny.safetensors'));
  });

  it('refuses pickles and files that are not safetensors by header', async () => {
    expect((await rejects(pullModel({ source: 'maskflow/pickle-only', file: 'model.ckpt' }, settings()))).code).toBe('pull_not_safetensors');
    const e = await rejects(pullModel({ source: 'maskflow/pickle-only' }, settings()));
    expect(e.code).toBe('pull_not_safetensors');
    expect(await tree(path.join(models, 'checkpoints'))).toEqual([]);
  });

  it('answers unknown repos, revisions and bad sources clearly', async () => {
    expect((await rejects(pullModel({ source: 'maskflow/nope' }, settings()))).code).toBe('hub_repo_not_found');
    expect((await rejects(pullModel({ source: 'maskflow/many-ckpts@v9' }, settings()))).message).toMatch(/revision "v9"/);
    expect((await rejects(pullModel({ source: '../etc' }, settings()))).details.param).toBe('source');
    expect((await rejects(pullModel({ source: 'maskflow/many-ckpts', name: '../x' }, settings()))).details.param).toBe('name');
  });

  it('refuses a file whose X-Linked-Etag contradicts the listing, before downloading it', async () => {
    const e = await rejects(pullModel({ source: 'maskflow/inconsistent' }, settings()));
    expect(e.code).toBe('hub_inconsistent');
    expect(hub.requestsFor('/cdn/')).toEqual([]);
    expect(await tree(path.join(models, 'checkpoints'))).toEqual([]);
  });

  it('refuses a pipeline that is not SDXL after reading its model_index.json, before any weights', async () => {
    const e = await rejects(pullModel({ source: 'maskflow/sd15' }, settings()));
    expect(e.code).toBe('pull_not_sdxl');
    expect(e.message).toContain('StableDiffusionPipeline');
    expect(hub.requestsFor('/cdn/')).toEqual([]);
    expect(existsSync(path.join(models, 'sd15'))).toBe(false);
  });

  it('runs one pull at a time per name', async () => {
    hub.throttle = { chunk: 64 * 1024, delayMs: 10 };
    let downloading!: () => void;
    const started = new Promise<void>((r) => (downloading = r));
    const a = pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'same' }, settings(), { onProgress: (p) => p.phase === 'downloading' && downloading() });
    await started;
    const b = await rejects(pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'same', include: ['safety_checker'] }, settings()));
    expect(b.code).toBe('pull_in_progress');
    await a;
    hub.throttle = undefined;
    expect(existsSync(path.join(models, '.pull-same.lock'))).toBe(false);
  });

  it('installs only what the resumed pull asked for, whatever an interrupted one staged', async () => {
    hub.throttle = { chunk: 64 * 1024, delayMs: 5 };
    const ac = new AbortController();
    const first = pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'x', include: ['safety_checker'] }, settings(), {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.file === 'safety_checker/model.safetensors' && p.fileBytes > 0) ac.abort();
      },
    });
    await expect(first).rejects.toThrow();
    hub.throttle = undefined;
    expect((await tree()).some((f) => f.startsWith('.pull-x/safety_checker/'))).toBe(true);
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'x' }, settings());
    expect(r.resumedBytes).toBe(0); // finished files are re-hashed and kept, not counted as resumed
    expect((await tree(r.path)).filter((f) => f.startsWith('safety_checker'))).toEqual([]);
    expect(await verifyPulled((await listPulled(models))[0]!)).toEqual([]);
  });

  it('checks free disk space before downloading', async () => {
    const e = await rejects(pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers' }, settings({ freeBytes: async () => 1024 })));
    expect(e.code).toBe('pull_disk_full');
    expect(e.message).toMatch(/needs .* and 1\.0+ KiB is free/);
    expect(hub.requestsFor('/cdn/')).toEqual([]);
  });

  it('resumes an interrupted pull from the bytes on disk', async () => {
    hub.throttle = { chunk: 64 * 1024, delayMs: 5 };
    const ac = new AbortController();
    const unet16 = diffusersFiles.get('unet/diffusion_pytorch_model.fp16.safetensors')!;
    const first = pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'resumed' }, settings(), {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.file === 'unet/diffusion_pytorch_model.fp16.safetensors' && p.fileBytes > unet16.length / 3) ac.abort();
      },
    });
    await expect(first).rejects.toThrow();
    hub.throttle = undefined;
    expect(existsSync(path.join(models, 'resumed'))).toBe(false);
    hub.log.length = 0;
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', name: 'resumed' }, settings());
    expect(r.resumedBytes).toBeGreaterThan(unet16.length / 3);
    const unetReqs = hub.log.filter((q) => q.url === `/cdn/${sha256(unet16)}`);
    expect(unetReqs).toHaveLength(1);
    expect(unetReqs[0]!.range).toMatch(/^bytes=\d+-$/);
    // Files finished by the first run were not fetched again.
    expect(hub.requestsFor('/cdn/').length).toBeLessThan(4);
    expect(sha256(await readFile(path.join(r.path, 'unet/diffusion_pytorch_model.fp16.safetensors')))).toBe(sha256(unet16));
    expect(await verifyPulled((await listPulled(models))[0]!)).toEqual([]);
  });
});

describe('pull from a URL', () => {
  it('names the checkpoint from Content-Disposition and records the URL', async () => {
    const url = `${hub.url}/dl/civitai-123?type=Model&format=SafeTensor&token=secret123`;
    hub.cutOnce.add(sha256(fp16Bytes));
    const r = await pullModel({ source: url }, settings({ urlAllowlist: ['127.0.0.1'] }));
    expect(r.name).toBe('Tiny_Inpaint_');
    expect(r.path).toBe(path.join(models, 'checkpoints/Tiny_Inpaint_.safetensors'));
    expect(sha256(await readFile(r.path))).toBe(sha256(fp16Bytes));
    const ranges = hub.log.filter((q) => q.url === '/dl/civitai-123').map((q) => q.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
    const prov = JSON.parse(await readFile(`${r.path}.source.json`, 'utf8'));
    expect(prov.source).toMatchObject({ type: 'url', url: url.replace('secret123', 'REDACTED'), filename: 'Tiny Inpaint ✓.safetensors' });
    expect(JSON.stringify(prov)).not.toContain('secret123');
    expect(prov.files[0].sha256).toBe(sha256(fp16Bytes));
    expect((await tree(path.join(models, 'checkpoints'))).sort()).toEqual(['Tiny_Inpaint_.safetensors', 'Tiny_Inpaint_.safetensors.source.json']);
  });

  it('applies the address policy, the size cap, the safetensors check and an expected sha256', async () => {
    const url = `${hub.url}/dl/civitai-123`;
    expect((await rejects(pullModel({ source: url }, settings()))).code).toBe('url_private_address');
    const cap = await rejects(pullModel({ source: url }, settings({ urlAllowlist: ['127.0.0.1'], maxFileBytes: 4096 })));
    expect(cap.code).toBe('pull_too_large');
    const pickle = await rejects(pullModel({ source: `${hub.url}/dl/pickle` }, settings({ urlAllowlist: ['127.0.0.1'] })));
    expect(pickle.code).toBe('pull_not_safetensors');
    const wrong = await rejects(pullModel({ source: url, sha256: '0'.repeat(64) }, settings({ urlAllowlist: ['127.0.0.1'] })));
    expect(wrong.code).toBe('pull_hash_mismatch');
    expect(await tree(path.join(models, 'checkpoints'))).toEqual([]);
  });

  it('parses Content-Disposition forms', () => {
    expect(contentDispositionName('attachment; filename="a b.safetensors"')).toBe('a b.safetensors');
    expect(contentDispositionName("attachment; filename*=UTF-8''%C3%A9t%C3%A9.safetensors")).toBe('été.safetensors');
    expect(contentDispositionName('attachment; filename=../../x.safetensors')).toBe('x.safetensors');
    expect(contentDispositionName(undefined)).toBeUndefined();
  });
});

describe('a pulled model runs', () => {
  it('an Optimum ONNX repo pulled from the Hub replays the inpaint9_euler_s100 golden', async () => {
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint' }, settings());
    expect(r.format).toBe('onnx');
    const lines: string[] = [];
    const code = await goldenMain(
      [path.join(FIX, 'goldens/inpaint9_euler_s100'), '--models', models, '--out', path.join(tmp, 'out'), '--threads', '1', '--check'],
      (l) => lines.push(l),
      testStore(models),
    );
    expect(code, lines.join('\n')).toBe(0);
  });
});

describe('a pulled checkpoint runs (compiled by maskflow)', () => {
  it('a diffusers repo pulled with its fp16 variant files replays the fp16 golden through --checkpoint', async () => {
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers' }, settings());
    expect(r.format).toBe('diffusers');
    const lines: string[] = [];
    const args = [path.join(FIX, 'goldens/ckpt_inpaint9_fp16_euler_s100'), '--checkpoint', r.path, '--out', path.join(tmp, 'out'), '--threads', '1', '--check'];
    expect(await goldenMain(args, (l) => lines.push(l)), lines.join('\n')).toBe(0);
  });

  it('a single fp16 file pulled from a repo replays the fp16 golden with its config folder', async () => {
    const r = await pullModel({ source: 'maskflow/tiny-sdxl-inpaint-diffusers', file: 'sd_xl_tiny.safetensors' }, settings());
    expect(r.format).toBe('checkpoint');
    const lines: string[] = [];
    const args = [path.join(FIX, 'goldens/ckpt_inpaint9_fp16_euler_s100'), '--checkpoint', r.path, '--config', path.join(FIX, 'checkpoints/tiny-sdxl-inpaint.config'), '--out', path.join(tmp, 'out'), '--threads', '1', '--check'];
    expect(await goldenMain(args, (l) => lines.push(l)), lines.join('\n')).toBe(0);
  });
});
