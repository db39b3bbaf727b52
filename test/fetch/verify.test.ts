import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isCamelOciError } from '../../src/base/errors.js';
import { BlobVerifier, createVerifier } from '../../src/fetch/verify.js';

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Collects everything written to it. */
function collector(): Writable & { data(): Buffer } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return Object.assign(w, { data: () => Buffer.concat(chunks) });
}

/** Splits a buffer into a readable of `size`-byte chunks. */
function chunked(data: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

const blob = randomBytes(10_000);
const expected = { digest: sha256(blob), size: blob.length };

test('passes the bytes on unchanged and accepts the right digest and size', async () => {
  const v = createVerifier(expected);
  const out = collector();
  await pipeline(chunked(blob), v, out);
  assert.ok(out.data().equals(blob));
  assert.equal(v.verifier.bytes, blob.length);
  assert.equal(v.verifier.finish(), expected.digest);
});

test('verifies an empty blob', async () => {
  const empty = Buffer.alloc(0);
  const v = createVerifier({ digest: sha256(empty), size: 0 });
  await pipeline(Readable.from([], { objectMode: false }), v, collector());
  assert.equal(v.verifier.finish(), sha256(empty));
});

test('fails with SIZE_EXCEEDED the moment more bytes than declared arrive (the source never ends)', async () => {
  // A source that sends one byte too many and then stalls forever: the overrun alone must fail it.
  const source = new PassThrough();
  source.write(blob);
  source.write(Buffer.from([0]));
  const v = createVerifier(expected);
  const out = collector();
  await assert.rejects(pipeline(source, v, out), (err: unknown) => {
    assert.ok(isCamelOciError(err, 'SIZE_EXCEEDED'), String(err));
    assert.match((err as Error).message, new RegExp(expected.digest));
    assert.match((err as Error).message, /10000 bytes/);
    return true;
  });
  assert.equal(out.data().length, blob.length, 'the overrunning chunk is not passed on');
});

test('fails a short read with DIGEST_MISMATCH naming the sizes, retryable', async () => {
  const v = createVerifier(expected);
  await assert.rejects(pipeline(chunked(blob.subarray(0, 9_000)), v, collector()), (err: unknown) => {
    assert.ok(isCamelOciError(err, 'DIGEST_MISMATCH'), String(err));
    assert.match((err as Error).message, /9000 of its 10000 bytes/);
    assert.match((err as Error).message, new RegExp(expected.digest));
    assert.equal((err as { retryable: boolean }).retryable, true);
    return true;
  });
});

test('fails wrong content of the right size with DIGEST_MISMATCH naming expected and actual digests', async () => {
  const other = Buffer.from(blob);
  other[5000] = (other[5000] ?? 0) ^ 0xff;
  const v = createVerifier(expected);
  await assert.rejects(pipeline(chunked(other), v, collector()), (err: unknown) => {
    assert.ok(isCamelOciError(err, 'DIGEST_MISMATCH'), String(err));
    assert.match((err as Error).message, new RegExp(`expected ${expected.digest}, got ${sha256(other)}`));
    assert.equal((err as { retryable: boolean }).retryable, false);
    return true;
  });
});

test('finish() repeats its outcome and no bytes are accepted after it', () => {
  const v = new BlobVerifier(expected);
  v.update(blob);
  assert.equal(v.finish(), expected.digest);
  assert.equal(v.finish(), expected.digest);
  assert.throws(
    () => v.update(Buffer.from([1])),
    (err: unknown) => isCamelOciError(err, 'INTERNAL'),
  );
});

test('refuses digests it cannot verify and invalid sizes', () => {
  const cases = [
    { digest: 'sha512:' + 'a'.repeat(128), size: 1, code: 'UNSUPPORTED' },
    { digest: 'sha256:' + 'A'.repeat(64), size: 1, code: 'UNSUPPORTED' },
    { digest: 'sha256:abc', size: 1, code: 'UNSUPPORTED' },
    { digest: expected.digest, size: -1, code: 'PLAN_INVALID' },
    { digest: expected.digest, size: 1.5, code: 'PLAN_INVALID' },
  ] as const;
  for (const c of cases) {
    assert.throws(
      () => new BlobVerifier(c),
      (err: unknown) => isCamelOciError(err, c.code),
      JSON.stringify(c),
    );
  }
});

test('resumes across two source streams with createVerifier(expected, verifier): same hash, right digest', async () => {
  const first = createVerifier(expected);
  const part1 = collector();
  // The first segment ends early (as a reset connection would); it must not finish the verifier.
  const segment = first.verifier.transform({ finish: false });
  await pipeline(chunked(blob.subarray(0, 4321)), segment, part1);
  assert.equal(first.verifier.bytes, 4321);
  assert.equal(first.verifier.finished, false);
  const second = createVerifier(expected, first.verifier);
  const part2 = collector();
  await pipeline(chunked(blob.subarray(first.verifier.bytes)), second, part2);
  assert.equal(second.verifier, first.verifier);
  assert.equal(second.verifier.finish(), expected.digest);
  assert.ok(Buffer.concat([part1.data(), part2.data()]).equals(blob));
});

test('refuses to resume with the state of another blob', () => {
  const other = new BlobVerifier({ digest: sha256(Buffer.from('x')), size: 1 });
  assert.throws(
    () => createVerifier(expected, other),
    (err: unknown) => isCamelOciError(err, 'INTERNAL'),
  );
});

test('pump() resumes after a source error into one consumer, which sees exactly the blob', async () => {
  const v = new BlobVerifier(expected);
  const out = new PassThrough();
  const received: Buffer[] = [];
  out.on('data', (c: Buffer) => received.push(c));
  // Source 1 fails mid-way like a reset socket.
  async function* broken(): AsyncGenerator<Buffer> {
    yield blob.subarray(0, 3000);
    yield blob.subarray(3000, 6000);
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }
  await assert.rejects(v.pump(broken(), out), /socket hang up/);
  assert.equal(v.bytes, 6000);
  assert.equal(out.writableEnded, false, 'the consumer stays open for the resumed source');
  // Source 2 is what a `Range: bytes=6000-` request returns.
  const taken = await v.pump(chunked(blob.subarray(v.bytes)), out);
  assert.equal(taken, 4000);
  assert.equal(v.finish(), expected.digest);
  out.end();
  await new Promise((resolve) => out.on('end', resolve));
  assert.ok(Buffer.concat(received).equals(blob));
});

test('pump() fails with SIZE_EXCEEDED when a resumed source overruns', async () => {
  const v = new BlobVerifier(expected);
  const out = new PassThrough();
  out.resume();
  await v.pump(chunked(blob.subarray(0, 9000)), out);
  await assert.rejects(v.pump(chunked(blob.subarray(0, 2000)), out), (err: unknown) => isCamelOciError(err, 'SIZE_EXCEEDED'));
});

test('pump() does not hang when the consumer is destroyed while it waits for drain', async () => {
  const v = new BlobVerifier(expected);
  // highWaterMark 1 and nobody reading: the first write returns false, then the consumer dies.
  const out = new PassThrough({ highWaterMark: 1 });
  const failure = new Error('consumer failed');
  setTimeout(() => out.destroy(failure), 20);
  await assert.rejects(v.pump(chunked(blob), out), (err: unknown) => err === failure);
});

test('collect() copies every chunk to its offset in one buffer, across a resumed source', async () => {
  const v = new BlobVerifier(expected);
  const into = Buffer.alloc(blob.length);
  async function* dripThenBreak(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 500; i++) yield blob.subarray(i, i + 1); // one byte at a time
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }
  await assert.rejects(v.collect(dripThenBreak(), into), /socket hang up/);
  assert.equal(v.bytes, 500);
  assert.equal(await v.collect(chunked(blob.subarray(v.bytes), 777), into), blob.length - 500);
  assert.equal(v.finish(), expected.digest);
  assert.ok(into.equals(blob));
});

test('collect() refuses a chunk past the declared size before copying any of it', async () => {
  const v = new BlobVerifier(expected);
  const into = Buffer.alloc(blob.length, 0xee);
  const overrun = Buffer.concat([blob.subarray(9000), Buffer.from('extra')]);
  await assert.rejects(v.collect(chunked(Buffer.concat([blob.subarray(0, 9000), overrun]), 9000), into), (err: unknown) =>
    isCamelOciError(err, 'SIZE_EXCEEDED'),
  );
  assert.equal(v.bytes, 9000);
  assert.ok(into.subarray(0, 9000).equals(blob.subarray(0, 9000)));
  assert.ok(into.subarray(9000).equals(Buffer.alloc(1000, 0xee)), 'nothing of the refused chunk was copied');
});
