/** removeTree: `rm -rf` that never follows a link, and whose memory does not grow with the entries. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { removeTree } from '../../src/base/remove-tree.js';

const run = promisify(execFile);
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-remove-tree-'));
  dirs.push(d);
  return d;
}

describe('removeTree', () => {
  it('removes nested directories, files and empty directories', async () => {
    const tmp = await tempDir();
    const tree = path.join(tmp, 'tree');
    await mkdir(path.join(tree, 'a', 'b', 'c'), { recursive: true });
    await mkdir(path.join(tree, 'empty'));
    for (let i = 0; i < 100; i++) await writeFile(path.join(tree, 'a', i % 2 ? 'b' : '.', `f${i}`), 'x');
    await writeFile(path.join(tree, 'a', 'b', 'c', 'deep'), 'y');
    await removeTree(tree);
    assert.deepEqual(await readdir(tmp), []);
  });

  it('removes a single file, and a missing path is not an error', async () => {
    const tmp = await tempDir();
    await writeFile(path.join(tmp, 'file'), 'x');
    await removeTree(path.join(tmp, 'file'));
    await removeTree(path.join(tmp, 'missing'));
    assert.deepEqual(await readdir(tmp), []);
  });

  it('removes symbolic links without following them', async () => {
    const tmp = await tempDir();
    const outside = path.join(tmp, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'keep'), 'precious');
    const tree = path.join(tmp, 'tree');
    await mkdir(path.join(tree, 'sub'), { recursive: true });
    await symlink(outside, path.join(tree, 'sub', 'dir-link'));
    await symlink(path.join(outside, 'keep'), path.join(tree, 'file-link'));
    await symlink(outside, path.join(tmp, 'top-link'));
    await removeTree(tree);
    await removeTree(path.join(tmp, 'top-link'));
    assert.deepEqual((await readdir(tmp)).sort(), ['outside']);
    assert.equal(await readFile(path.join(outside, 'keep'), 'utf8'), 'precious');
  });

  const root = process.getuid?.() === 0;
  it('reports what it cannot remove, with the file system code', { skip: root && 'root ignores directory permissions' }, async () => {
    const tmp = await tempDir();
    const tree = path.join(tmp, 'tree');
    await mkdir(path.join(tree, 'locked'), { recursive: true });
    await writeFile(path.join(tree, 'locked', 'f'), 'x');
    await run('chmod', ['0500', path.join(tree, 'locked')]);
    try {
      await assert.rejects(removeTree(tree), (err: NodeJS.ErrnoException) => err.code === 'EACCES');
      assert.deepEqual(await readdir(path.join(tree, 'locked')), ['f'], 'nothing else is lost');
    } finally {
      await run('chmod', ['0700', path.join(tree, 'locked')]);
    }
  });

  it('keeps its peak memory flat for 100k files, where a recursive rm takes ~180 MiB', { timeout: 120_000 }, async (t) => {
    const tmp = await tempDir();
    // A child process, so the peak is the removal's alone: it makes the files, then removes them.
    const script = `
      const { mkdirSync, writeFileSync } = require('node:fs');
      const d = process.argv[1];
      for (let i = 0; i < 100; i++) mkdirSync(d + '/d' + i, { recursive: true });
      for (let i = 0; i < 100000; i++) writeFileSync(d + '/d' + (i % 100) + '/f' + i, 'x');
      const before = process.resourceUsage().maxRSS;
      import(process.argv[2]).then(({ removeTree }) => removeTree(d)).then(() => {
        console.log(JSON.stringify({ before, after: process.resourceUsage().maxRSS }));
      });`;
    const module = new URL('../../src/base/remove-tree.js', import.meta.url).href;
    const { stdout } = await run(process.execPath, ['-e', script, path.join(tmp, 'tree'), module], { timeout: 100_000 });
    const { before, after: peak } = JSON.parse(stdout) as { before: number; after: number };
    t.diagnostic(`peak RSS before ${Math.round(before / 1024)} MiB, after removing 100k files ${Math.round(peak / 1024)} MiB`);
    assert.ok(peak - before < 40 * 1024, `removing 100k files raised the peak RSS by ${Math.round((peak - before) / 1024)} MiB`);
    assert.deepEqual(await readdir(tmp), []);
  });
});
