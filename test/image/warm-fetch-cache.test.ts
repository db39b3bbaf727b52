/**
 * The image build's warm-up (scripts/warm-fetch-cache.mjs): one real fetch of the built CLI from a
 * stand-in registry on loopback leaves the fetch bundle's code cache, and it is one the built
 * fetch then uses; the warm-up fails the build when the fetch fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadWithCodeCache } from '../../src/base/code-cache.js';
import { CLI } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'warm-fetch-cache.mjs');

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-warm-test-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('the warm-up leaves a code cache that the built fetch uses', async () => {
  const compileCache = path.join(tmp, 'compile-cache');
  const { stdout } = await run(process.execPath, [SCRIPT, CLI], {
    env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: compileCache },
  });
  const caches = await readdir(path.join(compileCache, 'camel-oci'));
  assert.equal(caches.length, 1);
  assert.match(stdout, new RegExp(caches[0]!.replace(/\./g, '\\.')));
  const loaded = loadWithCodeCache(path.join(path.dirname(CLI), 'fetch.cjs'), path.join(compileCache, 'camel-oci'), 'fetch');
  assert.equal(loaded.cache, 'used');
});

test('the warm-up fails when the fetch fails, saying why', async () => {
  const broken = path.join(tmp, 'broken-cli.mjs');
  await writeFile(broken, "process.stderr.write('camel-oci fetch failed: UNAVAILABLE: nothing here\\n'); process.exit(1);\n");
  await assert.rejects(
    run(process.execPath, [SCRIPT, broken], { env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: path.join(tmp, 'unused') } }),
    (err: { stderr: string }) => {
      assert.match(err.stderr, /the warm-up fetch failed: camel-oci fetch failed: UNAVAILABLE/);
      return true;
    },
  );
});
