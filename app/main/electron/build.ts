// `npm run build`: renderer (vite) and the Electron main/preload bundles (esbuild) into dist/.
import { ensureElectronBundle } from './bundle.ts';

const entry = await ensureElectronBundle();
console.log(`built ${entry} and dist/renderer`);
