import { loadOnnxModel } from '../server/models/onnx-graph.js';
import { moduleWeights } from '../server/models/onnx-modules.js';
import { readFileSync } from 'node:fs';
const maps = JSON.parse(readFileSync('test/fixtures/onnx_weight_maps/tiny-sdxl-inpaint.json','utf8'));
for (const comp of ['unet','text_encoder','text_encoder_2']) {
  const m = await loadOnnxModel(`test/fixtures/models/tiny-sdxl-inpaint/${comp}/model.onnx`);
  const w = moduleWeights(m);
  let ok = 0, bad = 0, missing: string[] = [];
  for (const [p, e] of Object.entries<any>(maps[comp])) {
    if (!p.endsWith('.weight')) continue;
    const mod = p.slice(0, -7);
    const got = w.get(mod);
    if (!got) { missing.push(`${mod} (${e.layout})`); continue; }
    if (got.initializer === e.initializer && (got.layout === e.layout)) ok++; else { bad++; console.log('BAD', mod, got, e); }
  }
  console.log(comp, 'modules', w.size, 'ok', ok, 'bad', bad, 'missing', missing.length, missing.slice(0, 8));
}
