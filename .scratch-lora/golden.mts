import '../server/models/golden-adapters.js';
import { goldenMain } from '../server/sdxl/golden-cli.js';
const code = await goldenMain(process.argv.slice(2));
process.exitCode = code;
