// Child process of stop-mid-run.test.ts: stops a server while onnxruntime runs a job in its
// execution worker, twice, then reports the job's state in the store. Exits 0 only if the
// process survived both stops.
import { rmSync } from 'node:fs';
import { api, REAL_NODES, startTestServer, tempDir } from './helpers.js';
import { testInputs } from './inpaint-helpers.js';

const inputs = await testInputs(256);
const states: string[] = [];
for (let i = 0; i < 2; i++) {
  const dataDir = tempDir();
  const server = await startTestServer({}, { nodeDirs: [REAL_NODES], dataDir });
  const r = await api(server, 'POST', '/v1/queue/inpaint', { prompt: 'a red apple', image_url: inputs.imageUri, mask_url: inputs.maskUri, num_inference_steps: 150, strength: 1, format: 'png', seed: 1, image_size: { width: 512, height: 512 } });
  const id: string = r.body.request_id;
  for (;;) {
    const s = (await api(server, 'GET', `/v1/runs/${id}`)).body;
    if (s.progress?.step >= 3) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  await server.stop({ keepData: true });
  const again = await startTestServer({}, { nodeDirs: [REAL_NODES], dataDir });
  states.push((await api(again, 'GET', `/v1/runs/${id}`)).body.status);
  await again.stop({ keepData: true });
  rmSync(dataDir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ alive: true, states })}\n`);
