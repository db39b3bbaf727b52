/**
 * `sameTree` opens both copies of a file as fds (base/fs.ts), which nothing closes for it: when one
 * open fails, the one that succeeded must be closed before the failure is reported, or a restarted
 * init container comparing many files would leak an fd per file.
 *
 * node:fs's open is made to fail for files named `unopenable.jar` before the staging module loads
 * (base/fs.ts takes node:fs's functions when it loads); as root, permissions cannot make an open
 * fail. This file runs in a process of its own (node --test), so nothing else sees the patch.
 */
import fs from 'node:fs';
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const realOpen = fs.open;
const UNOPENABLE = /\/b\/unopenable\.jar$/;
Object.assign(fs, {
  open(this: unknown, p: fs.PathLike, ...rest: unknown[]): void {
    if (UNOPENABLE.test(String(p))) {
      const callback = rest[rest.length - 1] as (err: NodeJS.ErrnoException) => void;
      const err = Object.assign(new Error(`EIO: i/o error, open '${String(p)}'`), { code: 'EIO' });
      // Later than the other side's open, so that one has an fd to leak.
      setTimeout(callback, 20, err);
      return;
    }
    (realOpen as (...a: unknown[]) => void).call(this, p, ...rest);
  },
});

const { sameTree } = await import('../../src/fetch/staging.js');

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

it('closes the copy that opened when the other cannot be opened, and fails as that open did', async () => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-same-file-'));
  dirs.push(base);
  for (const side of ['a', 'b']) {
    await mkdir(path.join(base, side));
    await writeFile(path.join(base, side, 'unopenable.jar'), 'the same bytes');
  }
  const before = openFds();
  for (let i = 0; i < 20; i++) {
    await assert.rejects(sameTree(path.join(base, 'a'), path.join(base, 'b')), (err: NodeJS.ErrnoException) => err.code === 'EIO');
  }
  assert.equal(openFds(), before, 'no fd is left open');
});
