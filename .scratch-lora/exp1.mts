import { loadOnnxModel, readInitializerFloat32, readInitializerBytes, DT_FLOAT } from '/work/main/server/models/onnx-graph.js';
import { patchOnnxModel } from '/work/main/server/models/onnx-patch.js';
import * as ort from 'onnxruntime-node';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
const dir = '/work/main/test/fixtures/models/tiny-sdxl-inpaint/text_encoder';
let t0 = Date.now();
const m = await loadOnnxModel(dir + '/model.onnx');
console.log('parse ms', Date.now() - t0, m.nodes.length, m.initializers.size);
const map = JSON.parse(readFileSync('/work/main/test/fixtures/onnx_weight_maps/tiny-sdxl-inpaint.json','utf8')).text_encoder;
const e = map['text_model.encoder.layers.0.self_attn.q_proj.weight']; console.log(e);
const node = m.nodes.find(n => n.name === e.node)!; console.log(node);
// patch: zero the token embedding? Instead replace q_proj with zeros and compare outputs differ
const emb = m.initializers.get('text_model.embeddings.token_embedding.weight')!;
console.log(emb.dims, emb.dataType, !!emb.raw);
const ids = new ort.Tensor('int32', Int32Array.from({length: 77}, (_, i) => i < 5 ? 49406 + (i%2) : 49407), [1, 77]);
const base = await ort.InferenceSession.create(readFileSync(dir + '/model.onnx'));
const o0 = await base.run({ input_ids: ids });
for (const mode of ['inline', 'external'] as const) {
  const w = await readInitializerFloat32(m, e.initializer);
  const w2 = new Float32Array(w); for (let i = 0; i < w2.length; i++) w2[i] *= 2;
  t0 = Date.now();
  const p = patchOnnxModel(m, new Map([[e.initializer, { dims: m.initializers.get(e.initializer)!.dims, dataType: DT_FLOAT, data: new Uint8Array(w2.buffer) }]]), { mode });
  const s = await ort.InferenceSession.create(p.modelBytes, p.sessionOptions as any);
  const o1 = await s.run({ input_ids: ids });
  const a = o0['last_hidden_state']!.data as Float32Array, b = o1['last_hidden_state']!.data as Float32Array;
  let d = 0; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  console.log(mode, 'ms', Date.now() - t0, 'maxdiff', d, p.byteLength);
  // identity patch gives identical
  const p2 = patchOnnxModel(m, new Map([[e.initializer, { dims: m.initializers.get(e.initializer)!.dims, dataType: DT_FLOAT, data: new Uint8Array(w.buffer) }]]), { mode });
  const s2 = await ort.InferenceSession.create(p2.modelBytes, p2.sessionOptions as any);
  const o2 = await s2.run({ input_ids: ids });
  const c = o2['last_hidden_state']!.data as Float32Array; let d2 = 0; for (let i = 0; i < a.length; i++) d2 = Math.max(d2, Math.abs(a[i]! - c[i]!));
  console.log(mode, 'identity maxdiff', d2);
}
