import ort from 'onnxruntime-node';
const f = 'test/fixtures/models/tiny-sdxl-inpaint/unet/model.onnx';
for (const lvl of ['disabled','basic','all','disabled','basic','all']) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const s = await ort.InferenceSession.create(f, { graphOptimizationLevel: lvl, intraOpNumThreads: 1 });
  const c = process.cpuUsage(c0);
  console.log(lvl, 'wall', Math.round(performance.now()-t0), 'cpu', Math.round((c.user+c.system)/1000));
  await s.release();
}
