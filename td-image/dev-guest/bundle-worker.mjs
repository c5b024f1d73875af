// Bundles `cocoon worker` (worker-main.ts) into one ES module for the development guest, which
// often runs under TCG emulation where transpiling TypeScript and opening thousands of files
// over 9p at start costs minutes. Each module's `import.meta.url` is pinned to its source file's
// URL: the guest mounts the project at the same path as the host, so the data files the code
// reads beside itself (the TL schema, Intel's root certificate) resolve there.
// Usage: node bundle-worker.mjs OUTFILE
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const outfile = process.argv[2];
if (!outfile) {
  console.error('usage: node bundle-worker.mjs OUTFILE');
  process.exit(2);
}
const pinImportMetaUrl = {
  name: 'pin-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const contents = source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href));
      return { contents, loader: /\.m?ts$/.test(args.path) ? 'ts' : 'js' };
    });
  },
};
await esbuild.build({
  entryPoints: [new URL('./worker-main.ts', import.meta.url).pathname],
  bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, minify: true, logLevel: 'warning',
  plugins: [pinImportMetaUrl],
  // Some CommonJS dependencies call require(); give the ES module bundle one.
  banner: { js: "import { createRequire as __cocoonRequire } from 'node:module'; const require = __cocoonRequire(import.meta.url);" },
});
