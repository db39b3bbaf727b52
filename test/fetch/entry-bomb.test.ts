/**
 * An entry-count bomb: a layer of very many tiny entries. It is refused at maxFiles, and the
 * unpacker's memory stays flat in the number of entries on the way there (the init container runs
 * under a memory limit). Measured in a child process: peak RSS (VmHWM) of unpacking alone, the
 * entries ignored (a kamelets layer), so this guards the parse path, not files written.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { TAR_EOF, tarHeader } from '../helpers/tar.js';

const ENTRIES = 300_000;
/** Refused near the end, so the whole stream is parsed first. */
const MAX_FILES = ENTRIES - 10_000;
/** Node and the modules take ~45 MiB. */
const PEAK_RSS_LIMIT_KIB = 120 * 1024;
const BLOCK = 512;
/** Entries per generated chunk (one header and one body block each: 512 KiB). */
const PER_CHUNK = 512;

const temps: string[] = [];
after(() => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));

/** The archive, generated as it is read: entry i is `d<i % 100>/f<i>.txt` holding one byte. */
function* archive(entries: number): Generator<Buffer> {
  for (let start = 0; start < entries; start += PER_CHUNK) {
    const n = Math.min(PER_CHUNK, entries - start);
    const chunk = Buffer.alloc(n * 2 * BLOCK);
    for (let j = 0; j < n; j++) {
      const i = start + j;
      tarHeader({ path: `d${i % 100}/f${i}.txt`, flag: '0', size: 1, mode: 0o644 }).copy(chunk, j * 2 * BLOCK);
      chunk[j * 2 * BLOCK + BLOCK] = 0x78;
    }
    yield chunk;
  }
  yield TAR_EOF;
}

test('refuses an entry-count bomb at maxFiles with peak RSS flat in the number of entries', { timeout: 60_000 }, async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-entry-bomb-'));
  temps.push(tmp);
  const layerFile = path.join(tmp, 'layer.tar.gz');
  await pipeline(Readable.from(archive(ENTRIES), { objectMode: false }), createGzip({ level: 1 }), createWriteStream(layerFile));
  const staging = path.join(tmp, 'staging');
  await mkdir(staging);
  const child = fileURLToPath(new URL('./entry-bomb-child.js', import.meta.url));
  const started = Date.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [child, layerFile, String(MAX_FILES), staging], { timeout: 50_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    );
  });
  const result = JSON.parse(stdout) as { code: string; message: string; peakRssKiB: number; ms: number };
  assert.equal(result.code, 'SIZE_EXCEEDED', result.message);
  assert.match(result.message, /maxFiles/);
  assert.ok(
    result.peakRssKiB > 0 && result.peakRssKiB < PEAK_RSS_LIMIT_KIB,
    `peak RSS ${result.peakRssKiB} KiB over ${PEAK_RSS_LIMIT_KIB} KiB (unpacked in ${result.ms} ms)`,
  );
  assert.ok(Date.now() - started < 45_000);
});
