import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/maskflow.mjs');
const run = promisify(execFile);

async function maskflow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd: tmp, env: { ...process.env, MASKFLOW_LOG_LEVEL: 'error' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mf-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('maskflow CLI', () => {
  it('lists every problem of an invalid workflow and exits non-zero', async () => {
    const file = path.join(tmp, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        nodes: {
          a: { type: 'image/no-such-node' },
          b: { type: 'image/save-image', params: { format: 'bmp' } },
        },
      }),
    );
    for (const cmd of ['validate', 'run']) {
      const r = await maskflow([cmd, file]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('unknown_node_type');
      expect(r.stderr).toContain('nodes.b.params.format');
      expect(r.stderr).toContain('missing_input');
    }
  });

  it('runs the built-in classical-fill workflow with a progress report and writes its output', async () => {
    const w = 64;
    const h = 48;
    const img = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      img[i * 3] = (i % w) * 4;
      img[i * 3 + 1] = Math.floor(i / w) * 5;
      img[i * 3 + 2] = 128;
    }
    const mask = Buffer.alloc(w * h);
    for (let y = 16; y < 32; y++) for (let x = 24; x < 40; x++) mask[y * w + x] = 255;
    await sharp(img, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(tmp, 'in.png'));
    await sharp(mask, { raw: { width: w, height: h, channels: 1 } }).png().toFile(path.join(tmp, 'mask.png'));
    const out = path.join(tmp, 'out');
    const r = await maskflow(['run', 'classical-fill', '--input', 'image=@in.png', '--input', 'mask=@mask.png', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/done\s+\S+ in \d+ ms/);
    const files = (await readdir(out)).filter((f) => f.endsWith('.png'));
    expect(files.length).toBe(1);
    const meta = await sharp(path.join(out, files[0]!)).metadata();
    expect([meta.width, meta.height]).toEqual([w, h]);
    const outputs = JSON.parse(await readFile(path.join(out, 'outputs.json'), 'utf8')) as { outputs: object };
    expect(Object.keys(outputs.outputs).length).toBeGreaterThan(0);
  });

  it('checks model folders', async () => {
    const ok = await maskflow(['models', 'verify', '--models', path.join(ROOT, 'test/fixtures/models')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ok         tiny-sdxl-inpaint [onnx] (inpaint)');
    const empty = await maskflow(['models', 'verify', '--models', tmp]);
    expect(empty.code).toBe(1);
  });
});
