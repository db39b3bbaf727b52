/**
 * Child process of entry-bomb.test.ts: unpacks a generated tar+gzip layer of many tiny entries the
 * way the runner does (downloaded bytes and unpacked bytes both told to one BufferReclaimer) and
 * prints one JSON line with the outcome and the peak RSS (VmHWM), measured in a fresh process so
 * nothing of the test runner (nor the making of the layer) counts. argv: layer file, maxFiles, staging dir.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { isCamelOciError } from '../../src/base/errors.js';
import { createBudget, DEFAULT_UNPACK_LIMITS } from '../../src/fetch/limits.js';
import { BufferReclaimer } from '../../src/fetch/memory.js';
import { unpackLayer } from '../../src/fetch/unpack.js';
import { layerTarget } from '../../src/plan/plan.js';
import type { PlanLayer } from '../../src/plan/plan.js';

const layerFile = process.argv[2]!;
const maxFiles = Number(process.argv[3]);
const dir = process.argv[4]!;

function peakRssKiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : -1;
}

const digest = `sha256:${'ab'.repeat(32)}`;
// A kamelets layer: its .txt entries are parsed, counted and ignored, so the run measures what
// the unpacker keeps per entry, not the file system.
const layer: PlanLayer = {
  digest,
  size: 1,
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  kind: 'kamelets',
  format: 'tar+gzip',
  target: layerTarget('kamelets', digest),
};
// The compressed size is not known up front: the layer bounds are set out of the way.
const limits = { ...DEFAULT_UNPACK_LIMITS, maxFiles, maxLayerBytes: Number.MAX_SAFE_INTEGER, maxCompressionRatio: undefined };
const reclaimer = new BufferReclaimer();
// As the runner: every downloaded (compressed) byte goes by the reclaimer on its way in.
const downloaded = createReadStream(layerFile).pipe(
  new PassThrough({
    transform: (chunk: Buffer, _encoding, callback) => {
      reclaimer.add(chunk.length);
      callback(null, chunk);
    },
  }),
);
const started = Date.now();
let code = 'OK';
let message = '';
try {
  await unpackLayer(downloaded, layer, dir, limits, createBudget(limits), reclaimer);
} catch (err) {
  code = isCamelOciError(err) ? err.code : 'THROWN';
  message = (err as Error).message;
}
process.stdout.write(`${JSON.stringify({ code, message, peakRssKiB: peakRssKiB(), ms: Date.now() - started })}\n`);
