import { startEditorServer } from '/work/main/test/e2e/helpers.js';
const s = await startEditorServer({ MASKFLOW_LOG_LEVEL: 'warn' });
console.log(s.url);
setInterval(() => {}, 1 << 30);
