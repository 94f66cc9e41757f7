// `maskflow models pull | list | verify` as a user runs them: HF_ENDPOINT pointing at the fake
// Hub, a progress report on stderr, the model listed and verified, tampering detected.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PullProgressBar } from '../../server/cli/pull-progress.js';
import { FakeHub, readTree } from './helpers/fake-hub.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/maskflow.mjs');

let hub: FakeHub;
let tmp: string;

function maskflow(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: tmp, env: { ...process.env, MASKFLOW_LOG_LEVEL: 'error', HF_ENDPOINT: hub.url, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mf-pull-cli-'));
  hub = await new FakeHub().start();
  hub.addRepo('maskflow/tiny-sdxl-inpaint-diffusers', readTree(path.join(ROOT, 'test/fixtures/checkpoints/tiny-sdxl-inpaint-diffusers')));
  hub.addRepo('maskflow/gated', new Map([['a.safetensors', Buffer.alloc(16)]]), { gated: true });
});
afterAll(async () => {
  await hub.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('maskflow models pull', () => {
  it('pulls from HF_ENDPOINT with progress, then lists and verifies the model', async () => {
    const models = path.join(tmp, 'models');
    const r = await maskflow(['models', 'pull', 'maskflow/tiny-sdxl-inpaint-diffusers', '--name', 'tiny', '--models', models]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/installed tiny \(diffusers, 18 file\(s\), [\d.]+ MiB\)/);
    // Not a TTY: one line per file and per 10% with bytes, rate and ETA.
    expect(r.stderr).toContain('unet/diffusion_pytorch_model.fp16.safetensors');
    expect(r.stderr).toMatch(/\[#+-*\] [\d.]+ [KM]iB \/ [\d.]+ MiB {2}[\d.]+ [KMG]?i?B\/s {2}ETA \S+/);

    const list = await maskflow(['models', 'list', '--models', models]);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout).models.find((m: { name: string }) => m.name === 'tiny');
    expect(listed.source).toMatchObject({ type: 'hub', repo: 'maskflow/tiny-sdxl-inpaint-diffusers' });

    const ok = await maskflow(['models', 'verify', '--models', models]);
    expect(ok.stdout).toMatch(/ok +tiny \(diffusers, 18 file\(s\) hashed, from maskflow\/tiny-sdxl-inpaint-diffusers@/);
    const weights = path.join(models, 'tiny/vae/diffusion_pytorch_model.fp16.safetensors');
    const bytes = await readFile(weights);
    bytes[bytes.length - 1] ^= 1;
    await writeFile(weights, bytes);
    const bad = await maskflow(['models', 'verify', '--models', models]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/CORRUPT +tiny .*vae\/diffusion_pytorch_model\.fp16\.safetensors: sha256 \w+ does not match/);
  });

  it('exits 1 with the HF_TOKEN message for a gated repo', async () => {
    const r = await maskflow(['models', 'pull', 'maskflow/gated', '--models', path.join(tmp, 'm2')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('this repo needs HF_TOKEN with access');
  });
});

describe('PullProgressBar', () => {
  it('shows bytes, rate and ETA', () => {
    let t = 0;
    const out: string[] = [];
    const stream = { isTTY: false, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
    const bar = new PullProgressBar(stream, false, () => t);
    bar.update({ phase: 'downloading', file: 'unet/x.safetensors', fileIndex: 0, fileCount: 2, fileBytes: 0, fileTotal: 100 << 20, bytes: 0, total: 200 << 20 });
    t = 10_000;
    const s = bar.text({ phase: 'downloading', file: 'unet/x.safetensors', fileIndex: 0, fileCount: 2, fileBytes: 50 << 20, fileTotal: 100 << 20, bytes: 50 << 20, total: 200 << 20 });
    expect(s).toBe('[######------------------] 50.0 MiB / 200.0 MiB  5.00 MiB/s  ETA 30s');
    expect(out[0]).toBe('[1/2] unet/x.safetensors (100.0 MiB)\n');
  });
});
