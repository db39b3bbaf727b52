/**
 * unpackVerified (a small layer unpacked from one verified buffer) against unpackLayer (the
 * streaming path, tested rule by rule in unpack.test.ts): for every case both must leave the same
 * files with the same bytes and result, or refuse with the same code and message. Then what only
 * the buffered path has: its inflate bound, beyond which it hands the layer to the stream.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { isCamelOciError } from '../../src/base/errors.js';
import { createBudget, DEFAULT_UNPACK_LIMITS, type UnpackBudget, type UnpackLimits } from '../../src/fetch/limits.js';
import { MAX_INFLATE_IN_MEMORY_BYTES, unpackLayer, unpackVerified, type UnpackResult } from '../../src/fetch/unpack.js';
import type { LayerFormat, LayerKind } from '../../src/plan/artifact.js';
import { layerFor } from '../helpers/plans.js';
import { tar, zeroStream, type TarEntry } from '../helpers/tar.js';

const MiB = 1024 * 1024;

const temps: string[] = [];
after(() => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));

/** A fresh `<tmp>/root/.staging-test/0`; returns the temp dir and the layer dir. */
async function sandbox(): Promise<{ tmp: string; dir: string }> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'camel-oci-unpack-verified-'));
  temps.push(tmp);
  const dir = path.join(tmp, 'root', '.staging-test', '0');
  await mkdir(dir, { recursive: true });
  return { tmp, dir };
}

/** Every path under `dir` with its type and, for files, its sha256 and mode. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(dir, r);
      const s = await lstat(abs);
      if (s.isDirectory()) {
        out.push(`${r}/ ${(s.mode & 0o7777).toString(8)}`);
        await walk(r);
      } else if (s.isFile()) {
        out.push(
          `${r} ${(s.mode & 0o7777).toString(8)} ${createHash('sha256')
            .update(await readFile(abs))
            .digest('hex')}`,
        );
      } else out.push(`${r} (not a file or directory)`);
    }
  }
  await walk('');
  return out;
}

type Outcome = { result: UnpackResult; files: string[] } | { code: string; message: string; files: string[] };

async function outcome(run: (dir: string) => Promise<UnpackResult>): Promise<Outcome> {
  const { dir } = await sandbox();
  try {
    const result = await run(dir);
    return { result, files: await snapshot(dir) };
  } catch (err) {
    assert.ok(isCamelOciError(err), `a CamelOciError, not ${String(err)}`);
    return { code: err.code, message: err.message, files: await snapshot(dir) };
  }
}

interface Case {
  readonly name: string;
  readonly kind?: LayerKind;
  readonly format: LayerFormat;
  readonly blob: () => Buffer;
  readonly fileName?: string;
  readonly limits?: Partial<UnpackLimits>;
  readonly budget?: UnpackBudget;
  /** What both paths must do: unpack (the same files and result), or refuse with this code (the same message). */
  readonly expect: 'unpacked' | string;
}

const jar = randomBytes(70_000);
const kamelet = Buffer.from('apiVersion: camel.apache.org/v1\nkind: Kamelet\n');
const gz = (entries: readonly TarEntry[]): Buffer => gzipSync(tar(entries));

const CASES: readonly Case[] = [
  {
    name: 'a dependency layer: jars flattened, other files kept at their path',
    format: 'tar+gzip',
    blob: () =>
      gz([
        { path: 'lib/a-1.0.jar', body: jar },
        { path: 'META-INF/maven/pom.xml', body: '<project/>' },
        { path: 'bin/run.sh', body: '#!/bin/sh\n', mode: 0o4755 },
        { path: 'empty.txt', body: '' },
      ]),
    expect: 'unpacked',
  },
  { name: 'a plain tar layer', format: 'tar', blob: () => tar([{ path: 'lib/b.jar', body: jar }]), expect: 'unpacked' },
  {
    name: 'a kamelets layer: kamelets kept, the rest ignored',
    kind: 'kamelets',
    format: 'tar+gzip',
    blob: () =>
      gz([
        { path: 'k/x.kamelet.yaml', body: kamelet },
        { path: 'README.md', body: 'x' },
      ]),
    expect: 'unpacked',
  },
  { name: 'a raw layer', format: 'raw', fileName: 'c.jar', blob: () => jar, expect: 'unpacked' },
  {
    name: 'a link inside the layer, skipped',
    format: 'tar+gzip',
    blob: () =>
      gz([
        { path: 'lib/a-1.0.jar', body: 'a' },
        { path: 'conf', type: 'symlink', linkpath: 'lib' },
        { path: 'conf/app.properties', body: 'x=1' },
      ]),
    expect: 'unpacked',
  },
  { name: 'an absolute path', format: 'tar+gzip', blob: () => gz([{ path: '/etc/cron.d/x', body: 'pwned' }]), expect: 'UNSAFE_ARCHIVE' },
  { name: 'a ".." path', format: 'tar+gzip', blob: () => gz([{ path: '../../../x.jar', body: 'pwned' }]), expect: 'UNSAFE_ARCHIVE' },
  {
    name: 'a ".." path in a pax header',
    format: 'tar',
    blob: () => tar([{ path: 'ok.txt', pax: { path: '../../../x.txt' }, body: 'pwned' }]),
    expect: 'UNSAFE_ARCHIVE',
  },
  {
    name: 'a link that escapes, after a file was written',
    format: 'tar+gzip',
    blob: () =>
      gz([
        { path: 'a.jar', body: 'a' },
        { path: 'passwd', type: 'symlink', linkpath: '/etc/passwd' },
      ]),
    expect: 'UNSAFE_ARCHIVE',
  },
  { name: 'a device', format: 'tar+gzip', blob: () => gz([{ path: 'null', type: 'char' }]), expect: 'UNSAFE_ARCHIVE' },
  { name: 'a fifo', format: 'tar', blob: () => tar([{ path: 'p', type: 'fifo' }]), expect: 'UNSAFE_ARCHIVE' },
  {
    name: 'a NUL in a pax path',
    format: 'tar',
    blob: () => tar([{ path: 'x', pax: { path: 'e.jar\0.txt' }, body: 'x' }]),
    expect: 'UNSAFE_ARCHIVE',
  },
  {
    name: 'two jars with one basename',
    format: 'tar+gzip',
    blob: () =>
      gz([
        { path: 'a/x.jar', body: '1' },
        { path: 'b/x.jar', body: '2' },
      ]),
    expect: 'NAME_COLLISION',
  },
  {
    name: 'gzip inside a tar+gzip layer',
    format: 'tar+gzip',
    blob: () => gzipSync(gz([{ path: 'a', body: 'x' }])),
    expect: 'UNSAFE_ARCHIVE',
  },
  { name: 'gzip in a layer declared tar', format: 'tar', blob: () => gz([{ path: 'a', body: 'x' }]), expect: 'UNSAFE_ARCHIVE' },
  { name: 'not gzip at all', format: 'tar+gzip', blob: () => Buffer.from('plain text'), expect: 'UNSAFE_ARCHIVE' },
  {
    name: 'truncated gzip',
    format: 'tar+gzip',
    blob: () => {
      const g = gz([{ path: 'a.jar', body: randomBytes(50_000) }]);
      return g.subarray(0, g.length >> 1);
    },
    expect: 'UNSAFE_ARCHIVE',
  },
  { name: 'an empty tar', format: 'tar', blob: () => Buffer.alloc(0), expect: 'UNSAFE_ARCHIVE' },
  {
    name: 'more entries than maxFiles',
    format: 'tar+gzip',
    blob: () => gz(Array.from({ length: 12 }, (_, i): TarEntry => ({ path: `f${i}.txt`, body: 'x' }))),
    limits: { maxFiles: 10 },
    expect: 'SIZE_EXCEEDED',
  },
  {
    name: 'more bytes than the budget left',
    format: 'tar+gzip',
    blob: () => gz([{ path: 'a.jar', body: jar }]),
    budget: { bytes: 50_000, files: 100 },
    expect: 'SIZE_EXCEEDED',
  },
  {
    name: 'an entry declaring more than the budget',
    format: 'tar',
    blob: () => tar([{ path: 'huge.jar', size: 1024 * MiB, body: randomBytes(1024) }], { eof: false }),
    limits: { maxUnpackedBytes: 64 * MiB },
    expect: 'SIZE_EXCEEDED',
  },
  {
    name: 'a raw layer above maxLayerBytes',
    format: 'raw',
    fileName: 'a.jar',
    blob: () => jar,
    limits: { maxLayerBytes: 1000 },
    expect: 'SIZE_EXCEEDED',
  },
  { name: 'a raw layer with an unusable fileName', format: 'raw', fileName: '../a.jar', blob: () => jar, expect: 'PLAN_INVALID' },
];

// First in the file, while the process's peak RSS is still its own start's.
test('feeds the parser a slice at a time: 15,000 empty entries refused at maxFiles cost little memory', { timeout: 60_000 }, async () => {
  const blob = gz(Array.from({ length: 15_000 }, (_, i): TarEntry => ({ path: `e/${i}`, body: '' })));
  assert.ok(blob.length < 1 * MiB, 'a small layer');
  const layer = layerFor('dependency', 'tar+gzip', blob);
  const limits = { ...DEFAULT_UNPACK_LIMITS, maxFiles: 10_000 };
  const before = process.resourceUsage().maxRSS;
  const got = await outcome((dir) => unpackVerified(blob, layer, dir, limits, createBudget(limits)));
  const grewMiB = (process.resourceUsage().maxRSS - before) / 1024;
  assert.ok('code' in got && got.code === 'SIZE_EXCEEDED' && /maxFiles/.test(got.message), JSON.stringify(got).slice(0, 300));
  // Handed over whole, the parser queued all 15,000 entries at once: 100 MiB more, against 35 in slices.
  assert.ok(grewMiB < 64, `peak RSS grew by ${grewMiB.toFixed(0)} MiB`);
});

for (const c of CASES) {
  test(`agrees with the streaming path on ${c.name}: ${c.expect}`, { timeout: 20_000 }, async () => {
    const blob = c.blob();
    const layer = layerFor(c.kind ?? 'dependency', c.format, blob, c.fileName);
    const limits = { ...DEFAULT_UNPACK_LIMITS, ...c.limits };
    const budget = (): UnpackBudget => (c.budget ? { ...c.budget } : createBudget(limits));
    const streamed = await outcome((dir) => unpackLayer(Readable.from([blob]), layer, dir, limits, budget()));
    const buffered = await outcome((dir) => unpackVerified(blob, layer, dir, limits, budget()));
    if (c.expect === 'unpacked') {
      assert.deepEqual(buffered, streamed);
      assert.ok(buffered.files.length > 0, 'files were written');
      return;
    }
    assert.ok('code' in buffered && 'code' in streamed, `refused: ${JSON.stringify({ buffered, streamed })}`);
    assert.deepEqual({ code: buffered.code, message: buffered.message }, { code: streamed.code, message: streamed.message });
    assert.equal(buffered.code, c.expect);
    // What a refused layer left in its staging directory (the runner removes it) is at most what the stream left.
    assert.deepEqual(
      buffered.files.filter((f) => !streamed.files.includes(f)),
      [],
    );
  });
}

for (const limit of [
  { name: 'the budget', limits: { maxUnpackedBytes: 2 * MiB, maxCompressionRatio: undefined }, pattern: /maxUnpackedBytes/ },
  { name: 'the compression ratio', limits: { maxCompressionRatio: 100 }, pattern: /maxCompressionRatio/ },
]) {
  test(`refuses a layer that inflates past ${limit.name}, whether or not it fits the in-memory bound`, { timeout: 60_000 }, async () => {
    // 4 MiB of zeros fits MAX_INFLATE_IN_MEMORY_BYTES; 64 MiB does not and is handed to the stream.
    for (const zeros of [4 * MiB, 64 * MiB]) {
      const blob = gz([{ path: 'a.jar', body: Buffer.alloc(zeros) }]);
      assert.ok(blob.length < 1 * MiB, 'a small layer');
      const layer = layerFor('dependency', 'tar+gzip', blob);
      const limits = { ...DEFAULT_UNPACK_LIMITS, ...limit.limits };
      const got = await outcome((dir) => unpackVerified(blob, layer, dir, limits, createBudget(limits)));
      assert.ok('code' in got && got.code === 'SIZE_EXCEEDED' && limit.pattern.test(got.message), JSON.stringify(got));
    }
  });
}

test('unpacks a layer that inflates past the in-memory bound through the stream, byte for byte', { timeout: 60_000 }, async () => {
  const big = Buffer.alloc(MAX_INFLATE_IN_MEMORY_BYTES + 1 * MiB, 'ab');
  const blob = gz([
    { path: 'lib/big.jar', body: big },
    { path: 'lib/small.jar', body: jar },
  ]);
  const layer = layerFor('dependency', 'tar+gzip', blob);
  const limits = { ...DEFAULT_UNPACK_LIMITS, maxCompressionRatio: undefined };
  const { dir } = await sandbox();
  const result = await unpackVerified(blob, layer, dir, limits, createBudget(limits));
  assert.deepEqual(result, { files: 2, bytes: big.length + jar.length, jars: ['big.jar', 'small.jar'], kamelets: [], ignored: 0 });
  assert.ok((await readFile(path.join(dir, 'big.jar'))).equals(big));
  assert.ok((await readFile(path.join(dir, 'small.jar'))).equals(jar));
});

test('refuses a bomb of 512 MiB of zeros (a half-MiB layer) without inflating it in memory', { timeout: 120_000 }, async () => {
  const parts: Buffer[] = [];
  for await (const chunk of zeroStream(512 * MiB, tar([{ path: 'a.jar', body: 'x' }], { eof: false })).pipe(createGzip({ level: 9 }))) {
    parts.push(chunk as Buffer);
  }
  const blob = Buffer.concat(parts);
  assert.ok(blob.length < 1 * MiB, `a small layer (${blob.length} bytes)`);
  const layer = layerFor('dependency', 'tar+gzip', blob);
  const limits = { ...DEFAULT_UNPACK_LIMITS, maxUnpackedBytes: 32 * MiB, maxCompressionRatio: undefined };
  const before = process.resourceUsage().maxRSS;
  const got = await outcome((dir) => unpackVerified(blob, layer, dir, limits, createBudget(limits)));
  const grewMiB = (process.resourceUsage().maxRSS - before) / 1024;
  assert.ok('code' in got && got.code === 'SIZE_EXCEEDED' && /maxUnpackedBytes/.test(got.message), JSON.stringify(got));
  // Inflated whole, the bomb alone would take 512 MiB; the bound lets it take MAX_INFLATE_IN_MEMORY_BYTES.
  assert.ok(grewMiB < 128, `peak RSS grew by ${grewMiB.toFixed(0)} MiB`);
});
