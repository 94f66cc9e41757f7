// `npm start` runs this first, so the editor exists on a fresh checkout.
import { ensureClientBuilt } from './client-build.js';

if (ensureClientBuilt()) process.stderr.write('built the editor into client/dist\n');
