// The server runs a .safetensors checkpoint dropped into models/checkpoints/: listed by
// /health, compiled on first use, inpainting through POST /v1/inpaint; a broken checkpoint
// fails its job with a message naming the file, and the server stays up.
import { cpSync, linkSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, REAL_NODES, startTestServer, type TestServer } from '../server/helpers.js';
import { testInputs } from '../server/inpaint-helpers.js';
import { CHECKPOINTS, SINGLE, scratchModels } from './helpers.js';

const scratch = scratchModels();
let server: TestServer;
let base: Record<string, unknown>;
/** A name as Civitai downloads have them: spaces, brackets, a comma, non-ASCII letters. */
const ODD_NAME = 'Juggernaut XL [v9], größer.safetensors';

beforeAll(async () => {
  const inputs = await testInputs();
  writeFileSync(path.join(scratch.modelsDir, 'checkpoints', 'broken.safetensors'), readFileSync(path.join(CHECKPOINTS, SINGLE)).subarray(0, 4096));
  const dir = path.join(scratch.modelsDir, 'checkpoints');
  linkSync(path.join(dir, SINGLE), path.join(dir, ODD_NAME));
  // The tiny checkpoint is not SDXL 1.0's architecture: its config folder goes along (<stem>.config).
  cpSync(path.join(dir, SINGLE.replace(/\.safetensors$/, '.config')), path.join(dir, ODD_NAME.replace(/\.safetensors$/, '.config')), { recursive: true });
  server = await startTestServer({ MASKFLOW_MODELS_DIR: scratch.modelsDir, MASKFLOW_DEFAULT_MODEL: SINGLE }, { nodeDirs: [REAL_NODES] });
  base = { prompt: 'a red apple', image_url: inputs.imageUri, mask_url: inputs.maskUri, num_inference_steps: 2, format: 'png', seed: 3 };
});
afterAll(async () => {
  await server?.stop();
  scratch.cleanup();
});

describe('checkpoints through the server', () => {
  it('/health lists checkpoints and folders with their format', async () => {
    const h = (await api(server, 'GET', '/health')).body;
    expect(h.models).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: SINGLE, format: 'checkpoint', kind: 'inpaint', complete: true }),
        expect.objectContaining({ name: 'tiny-sdxl-inpaint-diffusers', format: 'diffusers', kind: 'inpaint' }),
        expect.objectContaining({ name: 'broken.safetensors', format: 'checkpoint', complete: false, error: expect.stringMatching(/not a valid safetensors file/) }),
      ]),
    );
  });

  it('inpaints with a checkpoint named by file name and by stem', async () => {
    const a = await api(server, 'POST', '/v1/inpaint', { ...base, model: SINGLE });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.images).toHaveLength(1);
    const b = await api(server, 'POST', '/v1/inpaint', { ...base, model: 'tiny-sdxl-inpaint' });
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    const run = (await api(server, 'GET', `/v1/runs/${a.body.request_id}`)).body;
    expect(run.model).toBe(SINGLE);
  });

  it('takes any file name the catalogue lists, and refuses path tricks naming the field', async () => {
    const ok = await api(server, 'POST', '/v1/inpaint', { ...base, model: ODD_NAME });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await api(server, 'GET', `/v1/runs/${ok.body.request_id}`)).body.model).toBe(ODD_NAME);
    for (const bad of ['../secret.safetensors', 'checkpoints/../../x', 'a\\b', 'x\u0001']) {
      const r = await api(server, 'POST', '/v1/inpaint', { ...base, model: bad });
      expect(r.status, bad).toBe(422);
      expect(JSON.stringify(r.body), bad).toMatch(/model/);
    }
  });

  it('a broken checkpoint fails the request with a message naming it; the server stays up', async () => {
    const r = await api(server, 'POST', '/v1/inpaint', { ...base, model: 'broken.safetensors' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(r.body)).toMatch(/broken\.safetensors is not a valid safetensors file/);
    expect((await api(server, 'GET', '/health')).status).toBe(200);
    const again = await api(server, 'POST', '/v1/inpaint', { ...base, model: SINGLE });
    expect(again.status).toBe(200);
  });
});
