/**
 * What the built `fetch` process does before and after its work (src/cli.ts):
 *
 * - It runs with one libuv worker thread unless the environment sets the pool's size. libuv
 *   sizes its pool once, at the first job, so only a count of the threads it started shows the
 *   setting took effect: a preloaded module lists the process's threads by name at exit. Node
 *   24's libuv names its workers `libuv-worker`; on Node 20 they are unnamed, and there two runs
 *   that differ only in the pool's size differ in their thread count by as much. (Node 20 starts
 *   the pool before any code of ours when the entry is an ES module: dist/cli.js is CommonJS.)
 * - It loads its bundle with a code cache kept in Node's compile cache directory, written after
 *   a run that fetched; a cache that is corrupt or somebody else's never stops a fetch.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import { fetchArgv, runCli } from '../helpers/cli.js';
import { planJsonFor } from '../helpers/resolver.js';

let registry: StartedRegistry;
let tmp: string;
let plan: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-threadpool-cli-'));
  await writeFile(
    path.join(tmp, 'threads.cjs'),
    [
      "const fs = require('node:fs');",
      "process.on('exit', () => {",
      "  const names = fs.readdirSync('/proc/self/task').map((id) => { try { return fs.readFileSync(`/proc/self/task/${id}/comm`, 'utf8').trim(); } catch { return ''; } });",
      '  fs.writeFileSync(process.env.THREADS_FILE, JSON.stringify(names));',
      '});',
      '',
    ].join('\n'),
  );
  registry = await startRegistry({ mode: 'plain' });
  const pushed = await pushStandardArtifact(registry, 'acme/threads', '1.0');
  plan = await planJsonFor(registry, pushed.reference);
});

after(async () => {
  await registry?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Runs the built fetch of the standard artifact; returns the names of its threads at exit. */
async function fetchThreads(name: string, env: Record<string, string> = {}): Promise<string[]> {
  const threadsFile = path.join(tmp, `threads-${name}.json`);
  await fetchOnce(name, { NODE_OPTIONS: `--require ${path.join(tmp, 'threads.cjs')}`, THREADS_FILE: threadsFile, ...env });
  return JSON.parse(await readFile(threadsFile, 'utf8')) as string[];
}

/** Runs the built fetch of the standard artifact, which must succeed. */
async function fetchOnce(name: string, env: Record<string, string>): Promise<void> {
  const root = path.join(tmp, `root-${name}`);
  await mkdir(root);
  const res = await runCli(fetchArgv(root, tmp, registry.host), { env: { CAMEL_OCI_PLAN: plan, ...env } });
  assert.equal(res.code, 0, res.stderr);
  // The fetch did its file and inflate work on the pool: the layers are there.
  assert.deepEqual((await readdir(root)).sort(), ['dependencies', 'kamelets']);
}

const workers = (names: readonly string[]): number => names.filter((n) => n === 'libuv-worker').length;

test('fetch starts one libuv worker thread, and as many as UV_THREADPOOL_SIZE says when it is set', async () => {
  const chosen = await fetchThreads('chosen', { UV_THREADPOOL_SIZE: '3' });
  const byDefault = await fetchThreads('default');
  const threads = `threads: ${chosen.join(', ')} / by default ${byDefault.join(', ')}`;
  if (workers(chosen) > 0) {
    assert.equal(workers(chosen), 3, threads);
    assert.equal(workers(byDefault), 1, threads);
  } else {
    assert.equal(chosen.length - byDefault.length, 2, `three pool threads against one (Node ${process.version}); ${threads}`);
  }
});

test('fetch keeps its code cache in the compile cache directory, and runs past a corrupt or foreign one', async () => {
  const compileCache = path.join(tmp, 'compile-cache');
  const ours = path.join(compileCache, 'camel-oci');
  await fetchOnce('cache-first', { NODE_COMPILE_CACHE: compileCache });
  const [name, ...more] = await readdir(ours);
  assert.deepEqual(more, []);
  assert.match(name!, /^fetch-v8-.*\.cache$/);
  const cacheFile = path.join(ours, name!);
  const made = await stat(cacheFile);
  assert.equal(made.mode & 0o777, 0o600);

  // Corrupt: V8 refuses it, the run compiles from source and writes a good one in its place.
  await writeFile(cacheFile, Buffer.alloc(made.size, 0x5a));
  await fetchOnce('cache-corrupt', { NODE_COMPILE_CACHE: compileCache });
  assert.notDeepEqual(await readFile(cacheFile), Buffer.alloc(made.size, 0x5a));

  // Somebody else could have written it: not read, not replaced.
  await chmod(ours, 0o777);
  const before = await readFile(cacheFile);
  await writeFile(cacheFile, Buffer.alloc(16, 0x5a));
  await fetchOnce('cache-foreign', { NODE_COMPILE_CACHE: compileCache });
  assert.deepEqual(await readFile(cacheFile), Buffer.alloc(16, 0x5a));
  assert.notEqual(before.length, 16);

  // NODE_DISABLE_COMPILE_CACHE: none at all.
  const off = path.join(tmp, 'compile-cache-off');
  await fetchOnce('cache-off', { NODE_COMPILE_CACHE: off, NODE_DISABLE_COMPILE_CACHE: '1' });
  await assert.rejects(readdir(path.join(off, 'camel-oci')), { code: 'ENOENT' });
});
