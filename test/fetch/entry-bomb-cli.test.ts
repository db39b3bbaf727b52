/**
 * An entry-count bomb through the whole built `fetch` (issue 11, defect 7): a dependency layer of
 * very many one-byte files, every one of them written, refused at maxFiles. The init container's
 * memory must stay flat in the number of entries: the peak RSS of a fetch of 20k entries and of
 * one refused after 100k written files stay within a few MiB of each other. (The unpacker alone is
 * guarded by entry-bomb.test.ts; this one also covers what happens around it: the staging area of
 * 100k files removed after the refusal, the writes, the logs.)
 *
 * Peak RSS is the child's own getrusage maxrss, written by a preloaded module at exit, so nothing
 * is missed between two samples.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { DEPENDENCY, pushBuilt } from '../helpers/artifacts.js';
import { fetchArgv, runCli } from '../helpers/cli.js';
import { planJsonFor } from '../helpers/resolver.js';
import { TAR_EOF, tarHeader } from '../helpers/tar.js';

const BLOCK = 512;
const SMALL = 20_000;
const BOMB = 200_000;
const MAX_FILES = 100_000;
/**
 * Allowed growth of the peak from 20k written files to 100k written and 100k more parsed. Measured
 * flat within 2-9 MiB (GC timing); the code before the fix grew by about 160 MiB.
 */
const GROWTH_LIMIT_KIB = 40 * 1024;

let registry: StartedRegistry;
let tmp: string;
after(async () => {
  await registry?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A tar+gzip layer of `entries` one-byte files `d<i % 100>/f<i>.txt` (files keep their archive path). */
function tinyFiles(entries: number): Buffer {
  const tar = Buffer.alloc(entries * 2 * BLOCK);
  for (let i = 0; i < entries; i++) {
    tarHeader({ path: `d${i % 100}/f${i}.txt`, flag: '0', size: 1, mode: 0o644 }).copy(tar, i * 2 * BLOCK);
    tar[i * 2 * BLOCK + BLOCK] = 0x78;
  }
  return gzipSync(Buffer.concat([tar, TAR_EOF]), { level: 1 });
}

async function planFor(repoTag: string, entries: number): Promise<string> {
  await pushBuilt(registry, repoTag, (layout) =>
    layout.manifest({ layers: [{ bytes: tinyFiles(entries), annotations: { [DEPENDENCY]: 'bomb:files:1.0' } }] }),
  );
  return planJsonFor(registry, `${registry.host}/${repoTag}`);
}

/** Runs the built fetch with `plan`; returns its exit code, stderr and peak RSS in KiB. */
async function fetchMeasured(name: string, plan: string): Promise<{ code: number | null; stderr: string; peakKiB: number; root: string }> {
  const root = path.join(tmp, `root-${name}`);
  await mkdir(root);
  const peakFile = path.join(tmp, `peak-${name}`);
  const res = await runCli(fetchArgv(root, tmp, registry.host, ['--timeout', '240s', '--max-files', String(MAX_FILES)]), {
    env: { CAMEL_OCI_PLAN: plan, NODE_OPTIONS: `--require ${path.join(tmp, 'peak.cjs')}`, PEAK_FILE: peakFile },
    timeoutMs: 250_000,
  });
  return { ...res, peakKiB: Number(await readFile(peakFile, 'utf8')), root };
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-entry-bomb-cli-'));
  await writeFile(
    path.join(tmp, 'peak.cjs'),
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.PEAK_FILE, String(process.resourceUsage().maxRSS)));\n",
  );
  registry = await startRegistry({ mode: 'plain' });
});

test('fetch keeps its peak RSS flat in the number of entries, written or refused', { timeout: 600_000 }, async (t) => {
  const small = await fetchMeasured('small', await planFor('bomb/small:1', SMALL));
  assert.equal(small.code, 0, small.stderr);
  const dirs = await readdir(path.join(small.root, 'dependencies'));
  assert.equal(dirs.length, 1);
  let written = 0;
  for (const d of await readdir(path.join(small.root, 'dependencies', dirs[0]!))) {
    written += (await readdir(path.join(small.root, 'dependencies', dirs[0]!, d))).length;
  }
  assert.equal(written, SMALL, 'every file of the small layer is there');

  const bomb = await fetchMeasured('bomb', await planFor('bomb/big:1', BOMB));
  assert.notEqual(bomb.code, 0);
  assert.match(bomb.stderr, /SIZE_EXCEEDED/);
  assert.match(bomb.stderr, /maxFiles/);
  // Nothing of the refused layer is left: no final path, no staging area.
  assert.deepEqual(await readdir(bomb.root), []);

  const growth = bomb.peakKiB - small.peakKiB;
  t.diagnostic(`peak RSS: ${SMALL} entries ${Math.round(small.peakKiB / 1024)} MiB, bomb ${Math.round(bomb.peakKiB / 1024)} MiB`);
  assert.ok(
    growth < GROWTH_LIMIT_KIB,
    `peak RSS ${Math.round(small.peakKiB / 1024)} MiB for ${SMALL} entries, ${Math.round(bomb.peakKiB / 1024)} MiB for the bomb: grew by ${Math.round(growth / 1024)} MiB`,
  );
});
