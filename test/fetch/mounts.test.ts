/** The image volume mount points the fetcher makes under its root. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isCamelOciError, type ErrorCode } from '../../src/base/errors.js';
import { createImageMounts } from '../../src/fetch/mounts.js';

const temps: string[] = [];
after(() => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));

async function tempRoot(): Promise<{ tmp: string; root: string }> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'camel-oci-mounts-'));
  temps.push(tmp);
  const root = path.join(tmp, 'camel-oci');
  await mkdir(root);
  return { tmp, root };
}

async function rejectsWith(work: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.ok(isCamelOciError(err, code), `expected ${code}, got ${String(err)}`);
    assert.match((err as Error).message, message);
    return true;
  });
}

const A = 'images/0123456789ab';
const B = 'images/ba9876543210';

test('creates images/<hex12> empty directories under the root, and nothing else', async () => {
  const { tmp, root } = await tempRoot();
  await createImageMounts(root, [A, B]);
  assert.deepEqual(await readdir(root), ['images']);
  assert.deepEqual((await readdir(path.join(root, 'images'))).sort(), ['0123456789ab', 'ba9876543210']);
  for (const m of [A, B]) {
    const info = await lstat(path.join(root, m));
    assert.ok(info.isDirectory());
    assert.deepEqual(await readdir(path.join(root, m)), []);
  }
  assert.deepEqual(await readdir(tmp), ['camel-oci'], 'nothing outside the root');
});

test('does nothing without mount points, and keeps directories a restarted init container made', async () => {
  const { root } = await tempRoot();
  await createImageMounts(root, undefined);
  await createImageMounts(root, []);
  assert.deepEqual(await readdir(root), []);
  await createImageMounts(root, [A]);
  await createImageMounts(root, [A, B]);
  assert.deepEqual((await readdir(path.join(root, 'images'))).sort(), ['0123456789ab', 'ba9876543210']);
});

test('refuses any other shape (PLAN_INVALID) before creating anything', async () => {
  for (const bad of [
    'images/../../etc',
    'images/0123456789AB',
    'images/0123456789a',
    'dependencies/0123456789ab',
    '/images/0123456789ab',
    'images/0123456789ab/x',
  ]) {
    const { root } = await tempRoot();
    await rejectsWith(createImageMounts(root, [A, bad]), 'PLAN_INVALID', /images\/<12 hex digits>/);
    assert.deepEqual(await readdir(root), [], `nothing created for ${bad}`);
  }
  const { root } = await tempRoot();
  const many = Array.from({ length: 65 }, (_, i) => `images/${i.toString(16).padStart(12, '0')}`);
  await rejectsWith(createImageMounts(root, many), 'PLAN_INVALID', /at most 64/);
});

test('refuses a symbolic link or a file where a mount point goes (a link could aim the runtime elsewhere)', async () => {
  const { tmp, root } = await tempRoot();
  await mkdir(path.join(root, 'images'));
  await mkdir(path.join(tmp, 'elsewhere'));
  await symlink(path.join(tmp, 'elsewhere'), path.join(root, A));
  await rejectsWith(createImageMounts(root, [A]), 'IO_ERROR', /not a directory/);

  const second = await tempRoot();
  await symlink(path.join(second.tmp), path.join(second.root, 'images'));
  await rejectsWith(createImageMounts(second.root, [A]), 'IO_ERROR', /not a directory/);
  assert.deepEqual(await readdir(second.tmp), ['camel-oci'], 'nothing created through the link');

  const third = await tempRoot();
  await mkdir(path.join(third.root, 'images'));
  await writeFile(path.join(third.root, B), 'x');
  await rejectsWith(createImageMounts(third.root, [B]), 'IO_ERROR', /not a directory/);
});

test('keeps the deadline: an aborted signal stops it', async () => {
  const { root } = await tempRoot();
  const controller = new AbortController();
  controller.abort(new Error('deadline'));
  await assert.rejects(createImageMounts(root, [A], controller.signal), /deadline/);
});
