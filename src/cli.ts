#!/usr/bin/env node
/**
 * The `camel-oci` executable, dist/cli.js. It turns on Node's compile cache before any other module
 * of ours loads, then runs the command (main.ts): `fetch` from its one-file bundle, dist/fetch.cjs,
 * every other command from the ES modules in dist/lib/.
 *
 * It is built as CommonJS (scripts/bundle.mjs bundles this file and base/code-cache.ts into
 * dist/cli.js; dist/package.json says "commonjs", dist/lib/package.json "module"). Node loads a
 * CommonJS entry with synchronous reads; it loads an ES module entry on libuv's thread pool, which
 * starts the pool before this file runs, with four threads, whatever UV_THREADPOOL_SIZE it is then
 * given (Node 20, where a large fetch took 9-12 % less time once this file was CommonJS;
 * bench/RESULTS.md, session 9).
 *
 * Both the compile cache and the bundle serve the init container's start, which is most of a small
 * fetch. Node's on-disk compile cache (Node >= 22.1; absent on 20) loads modules compiled instead
 * of parsed; it honours NODE_COMPILE_CACHE, which the image points at a cache filled when the
 * image was built, and elsewhere uses Node's default under the temp dir. The fetch bundle has a
 * code cache of its own beside it (base/code-cache.ts), made after a run that fetched, so that it
 * also holds the functions compiled on their first call. A cache that cannot be read or written
 * only costs the time it would have saved. The commands are loaded after the cache is on; the one
 * module of ours bundled in here, base/code-cache.ts, uses Node's built-ins alone.
 */
import * as nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';
import { codeCacheDir, loadWithCodeCache } from './base/code-cache.js';

type Main = typeof import('./main.js').main;
type AsksForHelp = typeof import('./main.js').asksForHelp;

const argv = process.argv.slice(2);

// `fetch` runs with one libuv worker thread unless the environment sets the pool's size. Its
// threadpool work is inflating layers and writing files, one short job after another: with
// libuv's four threads nearly every job woke an idle thread, and on two cores those wake-ups and
// four threads contending with the main one cost more than the jobs (8 x 32 MiB: 1.55 -> 1.23 s,
// system time 0.9 -> 0.5 s; bench/RESULTS.md, "Fetch"). One thread also queues jobs behind a slow
// one (a stalled disk write, a slow DNS lookup); the run's deadline still holds. libuv reads the
// variable when the pool starts, at its first job, and nothing has run one before this line (this
// file is CommonJS, see above).
if (argv[0] === 'fetch') process.env.UV_THREADPOOL_SIZE ??= '1';

(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

/**
 * main() from dist/fetch.cjs, run with its code cache (base/code-cache.ts), and the step that saves
 * that cache after the run; undefined where dist/fetch.cjs is absent.
 */
function bundledFetch(): { main: Main; saveCache: (code: number) => void } | undefined {
  // import.meta.url is dist/cli.js's own URL in the CommonJS build (scripts/bundle.mjs).
  const file = fileURLToPath(new URL('./fetch.cjs', import.meta.url));
  type Exports = { main: Main; asksForHelp: AsksForHelp };
  let loaded: ReturnType<typeof loadWithCodeCache<Exports>>;
  try {
    loaded = loadWithCodeCache<Exports>(file, codeCacheDir(process.env), 'fetch');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === file) return undefined;
    throw err;
  }
  return {
    main: loaded.exports.main,
    // The cache is made from a run that fetched: one that stopped early compiled only its way out.
    saveCache: (code) => void (code === 0 && !loaded.exports.asksForHelp(argv.slice(1)) && loaded.save()),
  };
}

const bundle = argv[0] === 'fetch' ? bundledFetch() : undefined;
// A CommonJS file has no top-level await; the ES modules are loaded by URL, from dist/lib/.
const loadMain = async (): Promise<Main> =>
  bundle?.main ?? ((await import(new URL('./lib/main.js', import.meta.url).href)) as typeof import('./main.js')).main;
loadMain()
  .then((main) => main(argv, process.env))
  .then(
    (code) => {
      bundle?.saveCache(code);
      // Long-running commands (serve) never resolve; the others exit with their code.
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`camel-oci: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
