import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { isCamelOciError, type ErrorCode } from '../../src/base/errors.js';
import { createBudget, DEFAULT_UNPACK_LIMITS, type UnpackBudget, type UnpackLimits } from '../../src/fetch/limits.js';
import { unpackLayer, type UnpackResult } from '../../src/fetch/unpack.js';
import { BlobVerifier, createVerifier } from '../../src/fetch/verify.js';
import type { PlanLayer } from '../../src/plan/plan.js';
import type { LayerFormat, LayerKind } from '../../src/plan/artifact.js';
import { layerFor, sha256 } from '../helpers/plans.js';
import { tar, zeroStream, type TarEntry } from '../helpers/tar.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Streams a buffer in small chunks so entries straddle chunk boundaries. */
function chunked(data: Buffer, size = 777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

const temps: string[] = [];
after(() => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));

interface Sandbox {
  /** The temp dir holding everything; nothing but `root` may appear in it. */
  readonly tmp: string;
  readonly root: string;
  /** The fresh layer directory unpackLayer writes into. */
  readonly dir: string;
}

async function sandbox(): Promise<Sandbox> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'camel-oci-unpack-'));
  temps.push(tmp);
  const root = path.join(tmp, 'root');
  const dir = path.join(root, '.staging-test', '0');
  await mkdir(dir, { recursive: true });
  return { tmp, root, dir };
}

/** Every path under `dir` (relative, sorted), with a type suffix: `/` dir, `@` link, `?` other. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of await readdir(path.join(dir, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const s = await lstat(path.join(dir, r));
      if (s.isDirectory()) {
        out.push(`${r}/`);
        await walk(r);
      } else out.push(s.isFile() ? r : s.isSymbolicLink() ? `${r}@` : `${r}?`);
    }
  }
  await walk('');
  return out.sort();
}

/** The escape checks every refusal test ends with: nothing outside root, no link or special file inside. */
async function assertContained(sb: Sandbox): Promise<void> {
  assert.deepEqual(await readdir(sb.tmp), ['root'], 'nothing may appear beside the volume root');
  const inside = await tree(sb.root);
  assert.deepEqual(
    inside.filter((p) => p.endsWith('@') || p.endsWith('?')),
    [],
    'no link, device or fifo may exist under the root',
  );
}

interface RunOptions {
  readonly limits?: Partial<UnpackLimits>;
  readonly budget?: UnpackBudget;
  readonly source?: Readable;
}

async function run(sb: Sandbox, layer: PlanLayer, blob: Buffer, opts: RunOptions = {}): Promise<UnpackResult> {
  const limits = { ...DEFAULT_UNPACK_LIMITS, ...opts.limits };
  return unpackLayer(opts.source ?? chunked(blob), layer, sb.dir, limits, opts.budget ?? createBudget(limits));
}

/** Asserts a rejection with `code` whose message matches every pattern. */
async function rejectsWith(p: Promise<unknown>, code: ErrorCode, ...patterns: RegExp[]): Promise<Error> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    assert.ok(isCamelOciError(err, code), `expected ${code}, got ${String(err)}`);
    for (const re of patterns) assert.match((err as Error).message, re);
    return true;
  });
  return caught as Error;
}

/** Unpacks a tar layer that must be refused, then checks that nothing escaped. */
async function refuses(
  entries: readonly TarEntry[],
  code: ErrorCode,
  patterns: RegExp[],
  kind: LayerKind = 'dependency',
): Promise<Sandbox> {
  const sb = await sandbox();
  const blob = tar(entries);
  await rejectsWith(run(sb, layerFor(kind, 'tar', blob), blob), code, ...patterns);
  await assertContained(sb);
  return sb;
}

const jarA = randomBytes(3000);
const jarB = randomBytes(70_000); // spans many chunks and blocks
const pom = Buffer.from('<project/>\n');
const dependencyEntries: TarEntry[] = [
  { path: 'lib/', type: 'dir' },
  { path: 'lib/a-1.0.jar', body: jarA },
  { path: './deep/er/path/b-2.0.JAR', body: jarB },
  { path: 'META-INF/maven/acme/a/pom.xml', body: pom },
  { path: 'empty.txt', body: '' },
  { path: 'top.jar', body: 'top' },
];

async function assertDependencyLayout(sb: Sandbox, result: UnpackResult): Promise<void> {
  assert.deepEqual(await tree(sb.dir), [
    'META-INF/',
    'META-INF/maven/',
    'META-INF/maven/acme/',
    'META-INF/maven/acme/a/',
    'META-INF/maven/acme/a/pom.xml',
    'a-1.0.jar',
    'b-2.0.JAR',
    'empty.txt',
    'top.jar',
  ]);
  assert.ok((await readFile(path.join(sb.dir, 'a-1.0.jar'))).equals(jarA));
  assert.ok((await readFile(path.join(sb.dir, 'b-2.0.JAR'))).equals(jarB));
  assert.ok((await readFile(path.join(sb.dir, 'META-INF/maven/acme/a/pom.xml'))).equals(pom));
  assert.equal((await readFile(path.join(sb.dir, 'empty.txt'))).length, 0);
  assert.deepEqual(result, {
    files: 5,
    bytes: jarA.length + jarB.length + pom.length + 3,
    jars: ['a-1.0.jar', 'b-2.0.JAR', 'top.jar'],
    kamelets: [],
    ignored: 0,
  });
}

// ---- layout ----

test('flattens every jar of a tar+gzip dependency layer and keeps other files at their relative path, byte for byte', async () => {
  const sb = await sandbox();
  const blob = gzipSync(tar(dependencyEntries));
  await assertDependencyLayout(sb, await run(sb, layerFor('dependency', 'tar+gzip', blob), blob));
});

/** Chunkings that put entry boundaries mid-chunk, mid-header and many entries in one write. */
const chunkSizes = [100, 513, 64 * 1024, Number.MAX_SAFE_INTEGER];

for (const size of chunkSizes) {
  test(`unpacks a plain tar dependency layer the same way (source chunks of ${size === Number.MAX_SAFE_INTEGER ? 'the whole blob' : `${size} bytes`})`, async () => {
    const sb = await sandbox();
    const blob = tar(dependencyEntries);
    await assertDependencyLayout(sb, await run(sb, layerFor('dependency', 'tar', blob), blob, { source: chunked(blob, size) }));
  });
}

test('keeps the bytes of every file in order whatever the chunking (writes never overlap)', async () => {
  // Many multi-chunk entries, so that entries often start with several chunks already buffered.
  const bodies = Array.from({ length: 300 }, () => randomBytes(3000 + Math.floor(Math.random() * 5000)));
  const blob = tar(bodies.map((body, i): TarEntry => ({ path: `d/f${i}.bin`, body })));
  for (const size of [700, 4096, 9000]) {
    const sb = await sandbox();
    await run(sb, layerFor('dependency', 'tar', blob), blob, { source: chunked(blob, size) });
    for (const [i, body] of bodies.entries()) {
      assert.ok((await readFile(path.join(sb.dir, `d/f${i}.bin`))).equals(body), `f${i}.bin, chunks of ${size}`);
    }
  }
});

test('puts every *.kamelet.yaml of a kamelets layer under kamelets/ and ignores (counts) other files', async () => {
  const sb = await sandbox();
  const k1 = Buffer.from('apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: a-source\n');
  const k2 = Buffer.from('kind: Kamelet\nmetadata:\n  name: b-sink\n');
  const blob = gzipSync(
    tar([
      { path: 'repo/', type: 'dir' },
      { path: 'repo/kamelets/a-source.kamelet.yaml', body: k1 },
      { path: 'b-sink.kamelet.yaml', body: k2 },
      { path: 'README.md', body: '# kamelets' },
      { path: 'repo/lib/ignored.jar', body: 'not a kamelet' },
      { path: 'notes.kamelet.yml', body: 'wrong suffix' },
    ]),
  );
  const result = await run(sb, layerFor('kamelets', 'tar+gzip', blob), blob);
  assert.deepEqual(await tree(sb.dir), ['kamelets/', 'kamelets/a-source.kamelet.yaml', 'kamelets/b-sink.kamelet.yaml']);
  assert.ok((await readFile(path.join(sb.dir, 'kamelets/a-source.kamelet.yaml'))).equals(k1));
  assert.ok((await readFile(path.join(sb.dir, 'kamelets/b-sink.kamelet.yaml'))).equals(k2));
  assert.deepEqual(result, {
    files: 2,
    bytes: k1.length + k2.length,
    jars: [],
    kamelets: ['kamelets/a-source.kamelet.yaml', 'kamelets/b-sink.kamelet.yaml'],
    ignored: 3,
  });
});

test('writes a raw dependency layer to its fileName, byte for byte', async () => {
  const sb = await sandbox();
  const blob = randomBytes(100_000);
  const result = await run(sb, layerFor('dependency', 'raw', blob, 'foo-1.0.jar'), blob);
  assert.deepEqual(await tree(sb.dir), ['foo-1.0.jar']);
  assert.ok((await readFile(path.join(sb.dir, 'foo-1.0.jar'))).equals(blob));
  assert.deepEqual(result, { files: 1, bytes: blob.length, jars: ['foo-1.0.jar'], kamelets: [], ignored: 0 });
});

test('names a raw dependency layer without fileName <hex12>.jar', async () => {
  const sb = await sandbox();
  const blob = randomBytes(1000);
  const layer = layerFor('dependency', 'raw', blob);
  await run(sb, layer, blob);
  assert.deepEqual(await tree(sb.dir), [`${layer.digest.slice(7, 19)}.jar`]);
});

test('writes a raw kamelets layer to kamelets/<fileName>', async () => {
  const sb = await sandbox();
  const blob = Buffer.from('kind: Kamelet\n');
  const result = await run(sb, layerFor('kamelets', 'raw', blob, 'x-source.kamelet.yaml'), blob);
  assert.deepEqual(await tree(sb.dir), ['kamelets/', 'kamelets/x-source.kamelet.yaml']);
  assert.ok((await readFile(path.join(sb.dir, 'kamelets/x-source.kamelet.yaml'))).equals(blob));
  assert.deepEqual(result.kamelets, ['kamelets/x-source.kamelet.yaml']);
});

test('refuses a raw layer whose fileName is not one plain name', async () => {
  for (const fileName of ['../x.jar', 'a/b.jar', '..', '.']) {
    const sb = await sandbox();
    const blob = Buffer.from('x');
    await rejectsWith(run(sb, layerFor('dependency', 'raw', blob, fileName), blob), 'PLAN_INVALID');
    await assertContained(sb);
  }
});

test('creates files 0644 (0755 when owner-executable) and directories 0755, dropping setuid, setgid and sticky bits, whatever the umask', async () => {
  const sb = await sandbox();
  const blob = tar([
    { path: 'bin/run.sh', body: '#!/bin/sh\n', mode: 0o6755 },
    { path: 'bin/data.txt', body: 'x', mode: 0o1666 },
    { path: 'x.jar', body: 'x', mode: 0o4700 },
  ]);
  const previous = process.umask(0o077);
  try {
    await run(sb, layerFor('dependency', 'tar', blob), blob);
  } finally {
    process.umask(previous);
  }
  const mode = async (p: string): Promise<number> => (await stat(path.join(sb.dir, p))).mode & 0o7777;
  assert.equal(await mode('bin/run.sh'), 0o755);
  assert.equal(await mode('bin/data.txt'), 0o644);
  assert.equal(await mode('x.jar'), 0o755);
  assert.equal(await mode('bin'), 0o755);
});

test('reads long names from pax and GNU long-name headers', async () => {
  const sb = await sandbox();
  const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
  const blob = tar([
    { path: `${longDir}/pax-name.txt`, pax: { path: `${longDir}/pax-name.txt` }, body: 'pax' },
    { path: `${longDir}/gnu-name.txt`, gnuLongName: `${longDir}/gnu-name.txt`, body: 'gnu' },
    { path: `${longDir}/${'j'.repeat(120)}.jar`, pax: { path: `${longDir}/${'j'.repeat(120)}.jar` }, body: 'jar' },
  ]);
  const result = await run(sb, layerFor('dependency', 'tar', blob), blob);
  assert.equal(await readFile(path.join(sb.dir, longDir, 'pax-name.txt'), 'utf8'), 'pax');
  assert.equal(await readFile(path.join(sb.dir, longDir, 'gnu-name.txt'), 'utf8'), 'gnu');
  assert.deepEqual(result.jars, [`${'j'.repeat(120)}.jar`]);
});

test('charges the decompressed stream to the shared budget across layers', async () => {
  const budget = createBudget(DEFAULT_UNPACK_LIMITS);
  const plain = tar(dependencyEntries);
  const blob = gzipSync(plain);
  await run(await sandbox(), layerFor('dependency', 'tar+gzip', blob), blob, { budget });
  assert.equal(budget.bytes, DEFAULT_UNPACK_LIMITS.maxUnpackedBytes - plain.length);
  assert.equal(budget.files, DEFAULT_UNPACK_LIMITS.maxFiles - dependencyEntries.length);
  // A second layer against what is left: 6 entries each, 9 left after the first.
  budget.files = 9;
  await run(await sandbox(), layerFor('dependency', 'tar+gzip', blob), blob, { budget: { bytes: budget.bytes, files: 6 } });
  await rejectsWith(
    run(await sandbox(), layerFor('dependency', 'tar+gzip', blob), blob, { budget: { bytes: budget.bytes, files: 5 } }),
    'SIZE_EXCEEDED',
    /maxFiles/,
  );
});

// ---- collisions ----

test('refuses two jars with the same basename, naming both paths', async () => {
  await refuses(
    [
      { path: 'a/x.jar', body: '1' },
      { path: 'b/x.jar', body: '2' },
    ],
    'NAME_COLLISION',
    [/"a\/x\.jar"/, /"b\/x\.jar"/],
  );
});

test('refuses two kamelets with the same basename, naming both paths', async () => {
  await refuses(
    [
      { path: 'one/s.kamelet.yaml', body: '1' },
      { path: 'two/s.kamelet.yaml', body: '2' },
    ],
    'NAME_COLLISION',
    [/"one\/s\.kamelet\.yaml"/, /"two\/s\.kamelet\.yaml"/],
    'kamelets',
  );
});

test('refuses an archive that holds the same file twice (later entries would overwrite)', async () => {
  await refuses(
    [
      { path: 'conf/app.properties', body: 'a=1' },
      { path: 'conf/app.properties', body: 'a=2' },
    ],
    'NAME_COLLISION',
    [/appears twice/],
  );
});

test('refuses a file where another entry needs a directory', async () => {
  await refuses(
    [
      { path: 'docs', body: 'file' },
      { path: 'docs/readme.txt', body: 'x' },
    ],
    'NAME_COLLISION',
    [/"docs"/, /"docs\/readme\.txt"/],
  );
});

// ---- escapes: each property on its own ----

test('refuses an absolute path', async () => {
  const sb = await sandbox();
  const target = path.join(sb.tmp, 'escaped.txt');
  const blob = tar([{ path: target, body: 'pwned' }]);
  await rejectsWith(
    run(sb, layerFor('dependency', 'tar', blob), blob),
    'UNSAFE_ARCHIVE',
    /absolute/,
    new RegExp(target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')),
  );
  await assertContained(sb);
});

test('refuses a ".." segment', async () => {
  // From <tmp>/root/.staging-test/0, three levels up is <tmp>: outside the root.
  await refuses([{ path: '../../../escaped.txt', body: 'pwned' }], 'UNSAFE_ARCHIVE', [/"\.\.\/\.\.\/\.\.\/escaped\.txt"/, /"\.\."/]);
});

test('refuses a ".." segment hidden in the middle of a path', async () => {
  await refuses([{ path: 'lib/../../../../escaped.jar', body: 'pwned' }], 'UNSAFE_ARCHIVE', [/"\.\."/]);
});

test('refuses a ".." path carried by a pax header behind an innocent ustar name', async () => {
  await refuses([{ path: 'innocent.txt', pax: { path: '../../../escaped.txt' }, body: 'pwned' }], 'UNSAFE_ARCHIVE', [/escaped\.txt/]);
});

test('refuses an unsafe path even in an entry that would be ignored', async () => {
  await refuses([{ path: '../../../escaped.md', body: 'x' }], 'UNSAFE_ARCHIVE', [/"\.\."/], 'kamelets');
});

test('refuses a directory entry with a ".." segment', async () => {
  await refuses([{ path: '../../../outside/', type: 'dir' }], 'UNSAFE_ARCHIVE', [/"\.\."/]);
});

test('refuses a symlink that escapes the layer', async () => {
  await refuses([{ path: 'sub/link', type: 'symlink', linkpath: '../../escaped' }], 'UNSAFE_ARCHIVE', [
    /"sub\/link"/,
    /points outside the layer/,
  ]);
});

test('refuses an absolute symlink', async () => {
  await refuses([{ path: 'passwd', type: 'symlink', linkpath: '/etc/passwd' }], 'UNSAFE_ARCHIVE', [/points outside the layer/]);
});

test('skips a symlink that stays inside the layer: not created, not followed, the rest unpacked', async () => {
  const sb = await sandbox();
  const blob = tar([
    { path: 'lib/a-1.0.jar', body: 'a' },
    { path: 'lib/a.jar', type: 'symlink', linkpath: 'a-1.0.jar' },
    { path: 'conf', type: 'symlink', linkpath: 'lib' },
    { path: 'conf/app.properties', body: 'x=1' },
  ]);
  const result = await run(sb, layerFor('dependency', 'tar', blob), blob);
  assert.deepEqual(await tree(sb.dir), ['a-1.0.jar', 'conf/', 'conf/app.properties'], 'conf is a real directory, not the link');
  assert.deepEqual(result, { files: 2, bytes: 4, jars: ['a-1.0.jar'], kamelets: [], ignored: 2 });
  await assertContained(sb);
});

test('refuses to write through a symlink planted earlier in the archive', async () => {
  const sb = await sandbox();
  const blob = tar([
    { path: 'lib', type: 'symlink', linkpath: sb.tmp },
    { path: 'lib/escaped.jar', body: 'pwned' },
  ]);
  await rejectsWith(run(sb, layerFor('dependency', 'tar', blob), blob), 'UNSAFE_ARCHIVE', /"lib"/);
  await assertContained(sb);
  await assert.rejects(lstat(path.join(sb.tmp, 'escaped.jar')));
});

test('never writes through a symlink already present in the layer directory (file or parent directory)', async () => {
  // Defence in depth: archives cannot create links, but files are still opened O_EXCL|O_NOFOLLOW
  // and directories are checked with lstat, so a planted link is never followed.
  const cases = [
    { planted: 'x.jar', entry: 'x.jar' },
    { planted: 'conf', entry: 'conf/app.properties' },
  ];
  for (const c of cases) {
    const sb = await sandbox();
    const outside = path.join(sb.tmp, 'outside');
    await mkdir(outside);
    const victim = path.join(outside, 'victim');
    await writeFile(victim, 'original');
    await symlink(c.planted === 'x.jar' ? victim : outside, path.join(sb.dir, c.planted));
    const blob = tar([{ path: c.entry, body: 'pwned' }]);
    await rejectsWith(run(sb, layerFor('dependency', 'tar', blob), blob), 'IO_ERROR', /EEXIST/);
    assert.equal(await readFile(victim, 'utf8'), 'original', c.planted);
    assert.deepEqual(await readdir(outside), ['victim'], c.planted);
  }
});

test('refuses a hard link that escapes the layer', async () => {
  await refuses([{ path: 'shadow', type: 'hardlink', linkpath: '../../../../etc/shadow' }], 'UNSAFE_ARCHIVE', [
    /hard link/,
    /points outside the layer/,
  ]);
});

test('skips a hard link that stays inside the layer, in a dependency layer and in a kamelets layer', async () => {
  const deps = await sandbox();
  const jar = tar([
    { path: 'a.txt', body: 'a' },
    { path: 'b.txt', type: 'hardlink', linkpath: 'a.txt' },
  ]);
  const result = await run(deps, layerFor('dependency', 'tar', jar), jar);
  assert.deepEqual(await tree(deps.dir), ['a.txt']);
  assert.equal(result.ignored, 1);
  await assertContained(deps);
  const kamelets = await sandbox();
  const yaml = tar([
    { path: 'kamelets/x.kamelet.yaml', body: 'kind: Kamelet\n' },
    { path: 'kamelets/y.kamelet.yaml', type: 'hardlink', linkpath: 'kamelets/x.kamelet.yaml' },
  ]);
  const k = await run(kamelets, layerFor('kamelets', 'tar', yaml), yaml);
  assert.deepEqual(k.kamelets, ['kamelets/x.kamelet.yaml']);
  await assertContained(kamelets);
});

test('refuses a character device', async () => {
  await refuses([{ path: 'null', type: 'char' }], 'UNSAFE_ARCHIVE', [/"null"/, /device/]);
});

test('refuses a block device', async () => {
  await refuses([{ path: 'sda', type: 'block' }], 'UNSAFE_ARCHIVE', [/"sda"/, /device/]);
});

test('refuses a fifo', async () => {
  await refuses([{ path: 'pipe', type: 'fifo' }], 'UNSAFE_ARCHIVE', [/"pipe"/, /fifo/]);
});

test('refuses a path longer than maxPathLength', async () => {
  const long = `${'a'.repeat(200)}/`.repeat(6) + 'x.txt'; // 1211 bytes, every segment legal
  await refuses([{ path: long, pax: { path: long }, body: 'x' }], 'UNSAFE_ARCHIVE', [/longer than 1024 bytes/]);
});

test('refuses a path segment longer than a file system allows', async () => {
  const long = `${'n'.repeat(300)}.jar`;
  await refuses([{ path: long, pax: { path: long }, body: 'x' }], 'UNSAFE_ARCHIVE', [/segment is longer than 255 bytes/]);
});

test('refuses a NUL byte inside a pax path', async () => {
  await refuses([{ path: 'x.txt', pax: { path: 'evil.jar\0.txt' }, body: 'x' }], 'UNSAFE_ARCHIVE', [/NUL/]);
});

test('refuses a NUL byte inside a GNU long name', async () => {
  await refuses([{ path: 'x.txt', gnuLongName: 'evil.kamelet.yaml\0.txt', body: 'x' }], 'UNSAFE_ARCHIVE', [/NUL/], 'kamelets');
});

test('refuses entry types it does not unpack (a sparse file)', async () => {
  await refuses([{ path: 'sparse.jar', type: { flag: 'S' }, body: 'x' }], 'UNSAFE_ARCHIVE', [/"sparse\.jar"/, /not supported/]);
});

test('refuses an extended header larger than its bound', async () => {
  await refuses([{ path: 'x.txt', pax: { comment: 'c'.repeat(70_000) }, body: 'x' }], 'UNSAFE_ARCHIVE', [/extended header larger/]);
});

test('refuses a tar layer that holds gzip data (undeclared compression would bypass the meters)', async () => {
  const sb = await sandbox();
  const blob = gzipSync(tar([{ path: 'a.txt', body: 'x' }]));
  await rejectsWith(run(sb, layerFor('dependency', 'tar', blob), blob), 'UNSAFE_ARCHIVE', /declared as an uncompressed tar/, /gzip/);
});

test('refuses gzip nested inside a tar+gzip layer', async () => {
  const sb = await sandbox();
  const blob = gzipSync(gzipSync(tar([{ path: 'a.txt', body: 'x' }])));
  await rejectsWith(run(sb, layerFor('dependency', 'tar+gzip', blob), blob), 'UNSAFE_ARCHIVE', /gzip data inside/);
});

// ---- limits ----

test('stops a gzip bomb (1 GiB of zeros behind a tiny tar, streamed) at the unpacked-size limit', { timeout: 60_000 }, async () => {
  const sb = await sandbox();
  const zeros = zeroStream(1 * GiB, tar([{ path: 'a.txt', body: 'x' }], { eof: false }));
  const source = zeros.pipe(createGzip({ level: 1 }));
  const layer: PlanLayer = { ...layerFor('dependency', 'tar+gzip', Buffer.from('bomb')), size: 2 * MiB };
  const limit = 16 * MiB;
  await rejectsWith(
    run(sb, layer, Buffer.alloc(0), { source, limits: { maxUnpackedBytes: limit, maxCompressionRatio: undefined } }),
    'SIZE_EXCEEDED',
    /maxUnpackedBytes/,
  );
  // Stopped at the limit, not after the whole gigabyte. The slack is the test's own compressor
  // running ahead: it buffers a highWaterMark of output (16 KiB on Node 20, 64 KiB from Node 22),
  // each KiB about 1 MiB of zeros; twice that is allowed.
  const slack = 2 * (source.readableHighWaterMark / 1024) * MiB;
  assert.ok(zeros.produced() < limit + slack, `generated ${zeros.produced()} bytes before stopping (slack ${slack})`);
  assert.ok(limit + slack < GiB / 4, 'the slack still tells stopping early from reading the whole bomb');
  zeros.destroy();
  await assertContained(sb);
});

test('refuses an entry whose declared size exceeds the budget before reading its data', async () => {
  const sb = await sandbox();
  // The header claims 1 GiB; only 1 KiB follows. Refused at the header, not after writing.
  const blob = Buffer.concat([tar([{ path: 'huge.jar', size: 1 * GiB, body: randomBytes(1024) }], { eof: false })]);
  await rejectsWith(
    run(sb, layerFor('dependency', 'tar', blob), blob, { limits: { maxUnpackedBytes: 64 * MiB } }),
    'SIZE_EXCEEDED',
    /"huge\.jar" declares 1073741824 bytes/,
  );
  assert.deepEqual(await tree(sb.dir), []);
});

test('stops at the compression ratio limit before the size budget', { timeout: 60_000 }, async () => {
  const sb = await sandbox();
  const zeros = zeroStream(1 * GiB, tar([{ path: 'a.txt', body: 'x' }], { eof: false }));
  const source = zeros.pipe(createGzip({ level: 9 }));
  const layer: PlanLayer = { ...layerFor('dependency', 'tar+gzip', Buffer.from('ratio')), size: 2 * MiB };
  await rejectsWith(
    run(sb, layer, Buffer.alloc(0), { source, limits: { maxUnpackedBytes: 2 * GiB, maxCompressionRatio: 100 } }),
    'SIZE_EXCEEDED',
    /more than 100 times/,
    /maxCompressionRatio/,
  );
  assert.ok(zeros.produced() < 64 * MiB, `generated ${zeros.produced()} bytes before stopping`);
  zeros.destroy();
});

test('refuses more entries than maxFiles', async () => {
  const sb = await sandbox();
  const blob = tar(Array.from({ length: 20 }, (_, i): TarEntry => ({ path: `f${i}.txt`, body: String(i) })));
  await rejectsWith(
    run(sb, layerFor('dependency', 'tar', blob), blob, { limits: { maxFiles: 10 } }),
    'SIZE_EXCEEDED',
    /more entries than the 10/,
    /maxFiles/,
  );
  await assertContained(sb);
});

test('refuses a layer whose declared size exceeds maxLayerBytes without reading it', async () => {
  const sb = await sandbox();
  const source = new PassThrough(); // never written: the refusal must not wait for data
  const layer: PlanLayer = { ...layerFor('dependency', 'tar+gzip', Buffer.from('x')), size: 600 * MiB };
  await rejectsWith(run(sb, layer, Buffer.alloc(0), { source }), 'SIZE_EXCEEDED', /maxLayerBytes/);
  assert.equal(source.destroyed, true);
});

test('stops a layer whose bytes exceed maxLayerBytes whatever it declared', async () => {
  const sb = await sandbox();
  const blob = randomBytes(200_000);
  await rejectsWith(
    run(sb, layerFor('dependency', 'raw', blob, 'a.jar'), blob, { limits: { maxLayerBytes: 100_000 } }),
    'SIZE_EXCEEDED',
    /maxLayerBytes/,
  );
});

test('charges raw layers to the unpacked-size budget', async () => {
  const sb = await sandbox();
  const blob = randomBytes(200_000);
  await rejectsWith(
    run(sb, layerFor('dependency', 'raw', blob, 'a.jar'), blob, { budget: { bytes: 100_000, files: 10 } }),
    'SIZE_EXCEEDED',
    /maxUnpackedBytes/,
  );
});

// ---- corrupt input: clear errors, never a hang ----

const corrupt: { name: string; format: LayerFormat; blob: () => Buffer; pattern: RegExp }[] = [
  {
    name: 'corrupt gzip',
    format: 'tar+gzip',
    blob: () => {
      const gz = gzipSync(tar([{ path: 'a.jar', body: randomBytes(50_000) }]));
      for (let i = 100; i < 200; i++) gz[i] = 0xff;
      return gz;
    },
    pattern: /not valid gzip/,
  },
  {
    name: 'truncated gzip',
    format: 'tar+gzip',
    blob: () => {
      const gz = gzipSync(tar([{ path: 'a.jar', body: randomBytes(50_000) }]));
      return gz.subarray(0, gz.length >> 1);
    },
    pattern: /not valid gzip/,
  },
  { name: 'not gzip at all', format: 'tar+gzip', blob: () => Buffer.from('plain text, no gzip header here'), pattern: /not valid gzip/ },
  {
    name: 'tar truncated inside an entry',
    format: 'tar',
    blob: () => tar([{ path: 'a.jar', body: randomBytes(5000) }]).subarray(0, 2048),
    pattern: /not a valid tar/,
  },
  {
    name: 'tar header with a bad checksum',
    format: 'tar',
    blob: () => {
      const t = tar([{ path: 'a.jar', body: 'x' }]);
      t[0] = 0x62; // change the name without fixing the checksum
      return t;
    },
    pattern: /not a valid tar/,
  },
  { name: 'random bytes as tar', format: 'tar', blob: () => randomBytes(4096), pattern: /not a valid tar/ },
  { name: 'empty tar layer', format: 'tar', blob: () => Buffer.alloc(0), pattern: /not a valid tar/ },
];

for (const c of corrupt) {
  test(`fails a ${c.name} with UNSAFE_ARCHIVE, without hanging`, { timeout: 10_000 }, async () => {
    const sb = await sandbox();
    const blob = c.blob();
    await rejectsWith(run(sb, layerFor('dependency', c.format, blob), blob), 'UNSAFE_ARCHIVE', c.pattern);
    await assertContained(sb);
  });
}

test("fails with the verifier's DIGEST_MISMATCH when the blob bytes are wrong", { timeout: 10_000 }, async () => {
  const sb = await sandbox();
  const blob = gzipSync(tar(dependencyEntries));
  const layer = { ...layerFor('dependency', 'tar+gzip', blob), digest: sha256(Buffer.from('something else')) };
  const verifier = createVerifier(layer);
  chunked(blob).pipe(verifier);
  await rejectsWith(run(sb, layer, blob, { source: verifier }), 'DIGEST_MISMATCH', /expected sha256:/);
});

test("fails with the source's error and does not hang when the source dies mid-entry", { timeout: 10_000 }, async () => {
  const sb = await sandbox();
  const blob = tar([{ path: 'big.jar', body: randomBytes(100_000) }]);
  const source = new PassThrough();
  source.write(blob.subarray(0, 30_000));
  setTimeout(() => source.destroy(new Error('connection reset')), 20);
  const err = await rejectsWith(run(sb, layerFor('dependency', 'tar', blob), blob, { source }), 'IO_ERROR', /connection reset/);
  assert.equal(err instanceof Error, true);
});

test(
  'leaves no open handle or late write behind: the root can be removed right after a failure mid-file',
  { timeout: 10_000 },
  async () => {
    const sb = await sandbox();
    const blob = tar([{ path: 'deep/dir/big.jar', body: randomBytes(1 * MiB) }]);
    const source = new PassThrough();
    source.write(blob.subarray(0, 300_000));
    setTimeout(() => source.destroy(new Error('connection reset')), 20);
    await rejectsWith(run(sb, layerFor('dependency', 'tar', blob), blob, { source }), 'IO_ERROR');
    await rm(sb.root, { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await readdir(sb.tmp), [], 'nothing recreated after cleanup');
  },
);

test('unpacks a layer whose download was resumed after a reset (BlobVerifier.pump into one source)', { timeout: 10_000 }, async () => {
  const sb = await sandbox();
  const blob = gzipSync(tar(dependencyEntries));
  const layer = layerFor('dependency', 'tar+gzip', blob);
  const verifier = new BlobVerifier(layer);
  const body = new PassThrough();
  const unpacking = run(sb, layer, blob, { source: body });
  async function* reset(): AsyncGenerator<Buffer> {
    yield blob.subarray(0, 20_000);
    throw new Error('ECONNRESET');
  }
  await assert.rejects(verifier.pump(reset(), body), /ECONNRESET/);
  await verifier.pump(chunked(blob.subarray(verifier.bytes)), body); // what `Range: bytes=20000-` returns
  verifier.finish();
  body.end();
  await assertDependencyLayout(sb, await unpacking);
});
