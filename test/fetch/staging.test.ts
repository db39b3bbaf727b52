import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isCamelOciError } from '../../src/base/errors.js';
import { createBudget, DEFAULT_UNPACK_LIMITS } from '../../src/fetch/limits.js';
import { commitLayer, createStaging, removeStaleStaging, sameTree, STAGING_PREFIX } from '../../src/fetch/staging.js';
import { unpackLayer } from '../../src/fetch/unpack.js';
import type { PlanLayer } from '../../src/plan/plan.js';
import { tar } from '../helpers/tar.js';

const temps: string[] = [];
after(() => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));

async function tempRoot(): Promise<string> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'camel-oci-staging-'));
  temps.push(tmp);
  const root = path.join(tmp, 'camel-oci');
  await mkdir(root);
  return root;
}

/** Fills a fresh layer dir with a small tree. */
async function stageTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
}

const TARGET = 'dependencies/0123456789ab';

test('creates a .staging-<random> directory under the root and fresh, distinct layer directories in it', async () => {
  const root = await tempRoot();
  const a = await createStaging(root);
  const b = await createStaging(root);
  assert.notEqual(a.dir, b.dir);
  assert.equal(path.dirname(a.dir), root);
  assert.match(path.basename(a.dir), /^\.staging-[0-9a-f]{16}$/);
  const l1 = await a.layerDir();
  const l2 = await a.layerDir();
  assert.notEqual(l1, l2);
  assert.equal(path.dirname(l1), a.dir);
  assert.deepEqual(await readdir(l1), []);
  assert.equal((await stat(l1)).mode & 0o777, 0o755);
});

test('commits a layer with one rename to <root>/<target>, leaving nothing in staging', async () => {
  const root = await tempRoot();
  const staging = await createStaging(root);
  const dir = await staging.layerDir();
  await stageTree(dir, { 'a.jar': 'A', 'conf/x.properties': 'x=1' });
  assert.equal(await commitLayer(dir, root, TARGET), 'committed');
  assert.equal(await readFile(path.join(root, TARGET, 'a.jar'), 'utf8'), 'A');
  assert.equal(await readFile(path.join(root, TARGET, 'conf/x.properties'), 'utf8'), 'x=1');
  assert.deepEqual(await readdir(staging.dir), []);
  assert.equal((await stat(path.join(root, 'dependencies'))).mode & 0o777, 0o755);
  await staging.cleanup();
  assert.deepEqual((await readdir(root)).sort(), ['dependencies']);
});

test('keeps an identical layer committed by an earlier run (restarted init container)', async () => {
  const root = await tempRoot();
  const first = await createStaging(root);
  const d1 = await first.layerDir();
  await stageTree(d1, { 'a.jar': 'A', 'sub/b.txt': 'B' });
  await commitLayer(d1, root, TARGET);
  const before = (await stat(path.join(root, TARGET, 'a.jar'))).ino;
  await first.cleanup();

  const second = await createStaging(root);
  const d2 = await second.layerDir();
  await stageTree(d2, { 'a.jar': 'A', 'sub/b.txt': 'B' });
  assert.equal(await commitLayer(d2, root, TARGET), 'kept');
  assert.equal((await stat(path.join(root, TARGET, 'a.jar'))).ino, before, 'the earlier copy stays in place');
  assert.deepEqual(await readdir(second.dir), [], 'the staged duplicate is removed');
});

test('replaces a committed layer whose content differs with the freshly verified copy', async () => {
  const root = await tempRoot();
  const first = await createStaging(root);
  const d1 = await first.layerDir();
  await stageTree(d1, { 'a.jar': 'damaged', 'stray.txt': 'x' });
  await commitLayer(d1, root, TARGET);

  const second = await createStaging(root);
  const d2 = await second.layerDir();
  await stageTree(d2, { 'a.jar': 'A' });
  assert.equal(await commitLayer(d2, root, TARGET), 'replaced');
  assert.deepEqual(await readdir(path.join(root, TARGET)), ['a.jar']);
  assert.equal(await readFile(path.join(root, TARGET, 'a.jar'), 'utf8'), 'A');
  assert.deepEqual(await readdir(second.dir), [], 'the old copy does not linger in staging');
});

test('refuses targets other than dependencies/<hex12> or kamelets/<hex12>', async () => {
  const root = await tempRoot();
  const staging = await createStaging(root);
  const dir = await staging.layerDir();
  for (const target of [
    '../escape/0123456789ab',
    '/abs/0123456789ab',
    'dependencies/../../x',
    'other/0123456789ab',
    'dependencies/0123456789AB',
    'kamelets/0123456789ab/x',
    'dependencies',
  ]) {
    await assert.rejects(commitLayer(dir, root, target), (err: unknown) => isCamelOciError(err, 'PLAN_INVALID'), target);
  }
  assert.deepEqual(
    (await readdir(root)).filter((n) => !n.startsWith(STAGING_PREFIX)),
    [],
  );
});

test('a failed run leaves nothing at a final path: refused layer, then cleanup', async () => {
  const root = await tempRoot();
  const staging = await createStaging(root);
  const good = await staging.layerDir();
  const bad = await staging.layerDir();
  const okBlob = tar([{ path: 'ok.jar', body: 'ok' }]);
  const badBlob = tar([
    { path: 'partial.jar', body: 'written before the refusal' },
    { path: 'evil', type: 'symlink', linkpath: '/etc' },
  ]);
  const layer = (blob: Buffer, hex: string): PlanLayer => ({
    digest: `sha256:${hex}${'0'.repeat(52)}`,
    size: blob.length,
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    kind: 'dependency',
    format: 'tar',
    target: `dependencies/${hex}`,
  });
  const budget = createBudget(DEFAULT_UNPACK_LIMITS);
  await unpackLayer(Readable.from([okBlob]), layer(okBlob, 'aaaaaaaaaaaa'), good, DEFAULT_UNPACK_LIMITS, budget);
  await assert.rejects(
    unpackLayer(Readable.from([badBlob]), layer(badBlob, 'bbbbbbbbbbbb'), bad, DEFAULT_UNPACK_LIMITS, budget),
    (err: unknown) => isCamelOciError(err, 'UNSAFE_ARCHIVE'),
  );
  // The runner commits only when every layer succeeded; here it cleans up instead.
  await staging.cleanup();
  assert.deepEqual(await readdir(root), []);
  await staging.cleanup(); // idempotent
});

test('removes staging directories left by a crashed run, and only those', async () => {
  const root = await tempRoot();
  await mkdir(path.join(root, '.staging-deadbeef', '0'), { recursive: true });
  await mkdir(path.join(root, 'dependencies', '0123456789ab'), { recursive: true });
  await writeFile(path.join(root, '.staging-note'), 'a file, not a staging dir');
  assert.equal(await removeStaleStaging(root), 1);
  assert.deepEqual((await readdir(root)).sort(), ['.staging-note', 'dependencies']);
});

test('sameTree compares names, types and bytes', async () => {
  const root = await tempRoot();
  const mk = async (name: string, files: Record<string, string>): Promise<string> => {
    const d = path.join(root, name);
    await mkdir(d);
    await stageTree(d, files);
    return d;
  };
  const base = { 'a.jar': 'A'.repeat(200_000), 'd/b.txt': 'B' };
  const a = await mk('a', base);
  assert.equal(await sameTree(a, await mk('same', base)), true);
  assert.equal(await sameTree(a, await mk('byte', { ...base, 'a.jar': 'A'.repeat(199_999) + 'a' })), false);
  assert.equal(await sameTree(a, await mk('extra', { ...base, 'c.txt': '' })), false);
  assert.equal(await sameTree(a, await mk('renamed', { 'a.jar': base['a.jar'], 'e/b.txt': 'B' })), false);
});
