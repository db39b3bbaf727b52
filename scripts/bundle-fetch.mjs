/**
 * Bundles what `camel-oci fetch` runs into one CommonJS file, dist/fetch.cjs, after `tsc` built
 * dist/. The init container's whole run is mostly Node's start and the loading of its modules
 * (bench/RESULTS.md, "Fetch"): one file instead of ~50 ES modules skips their resolution and
 * linking, and `require` skips the ES module facades of Node's built-ins (each reads every export
 * of its built-in, loading more of Node). dist/cli.js runs this file for `fetch`; every other
 * command, and tests that import src/, use the ES modules, built from the same source.
 *
 * The bundle is main.js (flag parsing, the command table) with the fetch command's graph; the
 * other commands are left out (external) and cannot be reached from it: cli.js sends only `fetch`
 * here. `import.meta.url` is the URL of dist/base/version.js, the one module that resolves a file
 * by it (package.json, two levels up); node-transport uses it only to load built-ins.
 *
 * `assert` is bundle/assert.mjs: the bundle's one user of it is minizlib (through tar's parser),
 * whose check needs none of what Node's assert module loads. It is not minified: that measured
 * within the noise (bench/RESULTS.md), and its stack traces stay readable.
 */
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const OTHER_COMMANDS = ['serve', 'resolve', 'inject', 'certs', 'push', 'audit'];
const ASSERT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bundle', 'assert.mjs');

await build({
  entryPoints: [path.join(dist, 'main.js')],
  outfile: path.join(dist, 'fetch.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: OTHER_COMMANDS.map((c) => `./${c}.js`),
  define: { 'import.meta.url': '__camelOciModuleUrl' },
  banner: {
    js: "const __camelOciModuleUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, 'base', 'version.js')).href;",
  },
  alias: { assert: ASSERT, 'node:assert': ASSERT },
  logLevel: 'warning',
  legalComments: 'none',
});
