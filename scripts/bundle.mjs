/**
 * The second half of `npm run build`, after `tsc` compiled src/ into ES modules under dist/lib/:
 *
 * - dist/cli.js, the executable: src/cli.ts with base/code-cache.ts, as one CommonJS file. Node
 *   loads a CommonJS entry with synchronous reads, so nothing has started libuv's thread pool when
 *   it runs, and `fetch` gets the one pool thread it asks for (src/cli.ts). Its
 *   `import.meta.url` is its own URL: it finds dist/fetch.cjs and dist/lib/ beside it.
 * - dist/fetch.cjs, what `camel-oci fetch` runs, as one CommonJS file. The init container's whole
 *   run is mostly Node's start and the loading of its modules (bench/RESULTS.md, "Fetch"): one file
 *   instead of ~50 ES modules skips their resolution and linking, and `require` skips the ES
 *   module facades of Node's built-ins (each reads every export of its built-in, loading more of
 *   Node). Every other command, and tests that import src/, use the ES modules, built from the
 *   same source. It is lib/main.js (flag parsing, the command table) with the fetch command's
 *   graph; the other commands are left out (external) and cannot be reached from it: cli.js sends
 *   only `fetch` here. Its `import.meta.url` is the URL of dist/lib/base/version.js, the one module
 *   that resolves a file by it (package.json, three levels up); node-transport uses it only to
 *   load built-ins. `assert` is bundle/assert.mjs: the bundle's one user of it is minizlib
 *   (through tar's parser), whose check needs none of what Node's assert module loads.
 * - dist/package.json and dist/lib/package.json, which tell Node that dist/*.js is CommonJS and
 *   dist/lib/ holds ES modules (the root package.json says "module" for src/, test/ and scripts/).
 *
 * Neither file is minified: that measured within the noise (bench/RESULTS.md), and stack traces
 * stay readable.
 */
import { build } from 'esbuild';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const lib = path.join(dist, 'lib');
const OTHER_COMMANDS = ['serve', 'resolve', 'inject', 'certs', 'push', 'audit'];
const ASSERT = path.join(root, 'scripts', 'bundle', 'assert.mjs');

/**
 * A banner that defines `name` as the file URL of `relative` (a path from the bundle's own folder).
 * It opens with "use strict": esbuild writes its own after the banner, where it is no directive, and
 * the sources are ES modules, strict code.
 */
const urlOf = (name, relative) =>
  `"use strict";\nconst ${name} = require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(relative)})).href;`;

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', legalComments: 'none' };

await writeFile(path.join(dist, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
await writeFile(path.join(lib, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);

await build({
  ...common,
  entryPoints: [path.join(root, 'src', 'cli.ts')],
  outfile: path.join(dist, 'cli.js'),
  define: { 'import.meta.url': '__camelOciCliUrl' },
  banner: { js: urlOf('__camelOciCliUrl', 'cli.js') },
  // Only Node's built-ins besides code-cache.ts: dist/lib/main.js is imported by URL at run time.
  packages: 'external',
});

await build({
  ...common,
  entryPoints: [path.join(lib, 'main.js')],
  outfile: path.join(dist, 'fetch.cjs'),
  external: OTHER_COMMANDS.map((c) => `./${c}.js`),
  define: { 'import.meta.url': '__camelOciModuleUrl' },
  banner: { js: urlOf('__camelOciModuleUrl', 'lib/base/version.js') },
  alias: { assert: ASSERT, 'node:assert': ASSERT },
});
