/** The reproducible ustar writer, read back by node-tar. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isCamelOciError } from '../../src/base/errors.js';
import { writeTar } from '../../src/push/tar.js';
import { listTar } from '../helpers/list-tar.js';

describe('tar writer', () => {
  it('writes sorted entries with fixed owners, modes and times that node-tar reads back', async () => {
    const tar = writeTar([
      { type: 'file', path: 'dependencies/x/b.jar', data: Buffer.from('bbb') },
      { type: 'dir', path: 'dependencies' },
      { type: 'file', path: 'dependencies/x/a.jar', data: Buffer.alloc(513, 1) },
      { type: 'dir', path: 'dependencies/x' },
    ]);
    assert.equal(tar.length % 512, 0);
    const entries = await listTar(tar);
    assert.deepEqual(
      entries.map((e) => e.path),
      ['dependencies/', 'dependencies/x/', 'dependencies/x/a.jar', 'dependencies/x/b.jar'],
    );
    for (const e of entries) {
      assert.equal(e.uid, 0);
      assert.equal(e.gid, 0);
      assert.equal(e.mtime, 0);
      assert.equal(e.uname, '');
      assert.equal(e.mode, e.type === 'Directory' ? 0o755 : 0o644);
    }
    assert.deepEqual(entries[2]!.data, Buffer.alloc(513, 1));
  });

  it('splits a long path over the ustar prefix and refuses one that cannot fit', async () => {
    const long = `kamelets/${'k'.repeat(60)}/kamelets/${'n'.repeat(80)}.kamelet.yaml`;
    const [entry] = await listTar(writeTar([{ type: 'file', path: long, data: Buffer.from('x') }]));
    assert.equal(entry!.path, long);
    assert.throws(
      () => writeTar([{ type: 'file', path: `a/${'n'.repeat(120)}`, data: Buffer.from('x') }]),
      (e) => isCamelOciError(e, 'CONFIG_INVALID'),
    );
  });

  it('refuses unclean and duplicate paths', () => {
    for (const path of ['/abs', 'a/../b', 'a//b', './a']) {
      assert.throws(
        () => writeTar([{ type: 'file', path, data: Buffer.from('') }]),
        (e) => isCamelOciError(e, 'INTERNAL'),
        path,
      );
    }
    assert.throws(
      () =>
        writeTar([
          { type: 'dir', path: 'a' },
          { type: 'dir', path: 'a' },
        ]),
      (e) => isCamelOciError(e, 'NAME_COLLISION'),
    );
  });
});
