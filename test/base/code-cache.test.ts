import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cacheFileName, codeCacheDir, loadWithCodeCache } from '../../src/base/code-cache.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-code-cache-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A CommonJS file that requires a sibling and reports what it was given, with functions to compile. */
async function bundle(name: string, marker: string): Promise<string> {
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'sibling.cjs'), "module.exports = 'sibling';\n");
  const file = path.join(dir, 'bundle.cjs');
  await writeFile(
    file,
    [
      "'use strict';",
      "const sibling = require('./sibling.cjs');",
      `function marker() { return ${JSON.stringify(marker)}; }`,
      'function later(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }',
      'exports.info = () => ({ marker: marker(), sibling, dirname: __dirname, filename: __filename, same: module.exports === exports, sum: later(10) });',
      '',
    ].join('\n'),
  );
  return file;
}

type Info = { info(): { marker: string; sibling: string; dirname: string; filename: string; same: boolean; sum: number } };

describe('loadWithCodeCache', () => {
  it('runs the file as require would, makes the cache after the run, and uses it the next time', async () => {
    const file = await bundle('plain', 'one');
    const cacheDir = path.join(tmp, 'plain-cache', 'camel-oci');
    const first = loadWithCodeCache<Info>(file, cacheDir, 'test');
    assert.equal(first.cache, 'missing');
    assert.deepEqual(first.exports.info(), {
      marker: 'one',
      sibling: 'sibling',
      dirname: path.dirname(file),
      filename: file,
      same: true,
      sum: 45,
    });
    assert.equal(first.save(), true);
    const [name, ...rest] = await readdir(cacheDir);
    assert.deepEqual(rest, []);
    assert.match(name!, new RegExp(`^test-v8-${process.versions.v8.replace(/\./g, '\\.')}-${process.arch}-[0-9a-f]{8}-\\d+\\.cache$`));
    assert.equal((await stat(cacheDir)).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(cacheDir, name!))).mode & 0o777, 0o600);

    const second = loadWithCodeCache<Info>(file, cacheDir, 'test');
    assert.equal(second.cache, 'used');
    assert.equal(second.exports.info().marker, 'one');
    assert.equal(second.save(), false, 'a cache that was used is not written again');
  });

  it('never gives an edited file the cache of the old one', async () => {
    const cacheDir = path.join(tmp, 'edited-cache');
    const file = await bundle('edited', 'aaa');
    loadWithCodeCache<Info>(file, cacheDir, 'test').save();
    // Same length, other content: V8 alone would take the old cache (it checks the length).
    await bundle('edited', 'bbb');
    const edited = loadWithCodeCache<Info>(file, cacheDir, 'test');
    assert.equal(edited.cache, 'missing');
    assert.equal(edited.exports.info().marker, 'bbb');
  });

  it('runs from source when the cache is corrupt, and replaces it', async () => {
    const file = await bundle('corrupt', 'one');
    const cacheDir = path.join(tmp, 'corrupt-cache');
    await mkdir(cacheDir, { mode: 0o700 });
    const cacheFile = path.join(cacheDir, cacheFileName(await readFile(file, 'utf8'), 'test')!);
    await writeFile(cacheFile, Buffer.alloc(4096, 0x5a), { mode: 0o600 });
    const loaded = loadWithCodeCache<Info>(file, cacheDir, 'test');
    assert.equal(loaded.cache, 'rejected');
    assert.equal(loaded.exports.info().marker, 'one');
    assert.equal(loaded.save(), true);
    assert.equal(loadWithCodeCache<Info>(file, cacheDir, 'test').cache, 'used');
  });

  it('does not read or write a cache that somebody else could have written', async () => {
    const file = await bundle('untrusted', 'one');
    const name = cacheFileName(await readFile(file, 'utf8'), 'test')!;

    const openDir = path.join(tmp, 'world-writable-dir');
    await mkdir(openDir);
    await chmod(openDir, 0o777);
    const inOpenDir = loadWithCodeCache<Info>(file, openDir, 'test');
    assert.equal(inOpenDir.cache, 'untrusted');
    assert.equal(inOpenDir.save(), false);
    assert.deepEqual(await readdir(openDir), []);

    const good = path.join(tmp, 'good-cache');
    loadWithCodeCache<Info>(file, good, 'test').save();
    const groupWritable = path.join(tmp, 'group-writable-file');
    await mkdir(groupWritable, { mode: 0o700 });
    await writeFile(path.join(groupWritable, name), Buffer.alloc(16));
    await chmod(path.join(groupWritable, name), 0o620);
    assert.equal(loadWithCodeCache<Info>(file, groupWritable, 'test').cache, 'untrusted');

    const linked = path.join(tmp, 'linked-file');
    await mkdir(linked, { mode: 0o700 });
    await symlink(path.join(good, name), path.join(linked, name));
    assert.equal(loadWithCodeCache<Info>(file, linked, 'test').cache, 'untrusted');
    assert.equal(loadWithCodeCache<Info>(file, good, 'test').cache, 'used', 'the same cache, read from its own directory');
  });

  it('keeps no cache without a directory', async () => {
    const file = await bundle('off', 'one');
    const loaded = loadWithCodeCache<Info>(file, undefined, 'test');
    assert.equal(loaded.cache, 'off');
    assert.equal(loaded.exports.info().marker, 'one');
    assert.equal(loaded.save(), false);
  });

  it('fails as require does when the file is missing', () => {
    assert.throws(() => loadWithCodeCache(path.join(tmp, 'nope.cjs'), undefined, 'test'), { code: 'ENOENT' });
  });
});

describe('codeCacheDir', () => {
  it("is a directory of our own in Node's compile cache directory, and none when Node's is off", () => {
    assert.equal(codeCacheDir({ NODE_COMPILE_CACHE: '/opt/camel-oci/compile-cache' }), '/opt/camel-oci/compile-cache/camel-oci');
    assert.equal(codeCacheDir({}), path.join(os.tmpdir(), 'node-compile-cache', 'camel-oci'));
    assert.equal(codeCacheDir({ NODE_COMPILE_CACHE: '/x', NODE_DISABLE_COMPILE_CACHE: '1' }), undefined);
  });
});
