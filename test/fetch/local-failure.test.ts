/**
 * A local failure is the run's own: when a layer's staging directory cannot be made (a full
 * volume), no source of the layer is blamed for it and no other source is asked. The fetcher's
 * request for the layer goes out before it makes that directory, so the failure meets a request in
 * flight; the mirror in front of the upstream would otherwise be marked failed and the upstream
 * asked next.
 *
 * node:fs's mkdir is made to fail for layer directories (`.staging-<hex>/<n>`) before the
 * fetcher's modules load: base/fs.ts takes node:fs's functions when it loads. This file runs in a
 * process of its own (node --test), so nothing else sees the patch.
 */
import fs from 'node:fs';
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const realMkdir = fs.mkdir;
const LAYER_DIR = /\.staging-[0-9a-f]+\/\d+$/;
Object.assign(fs, {
  mkdir(this: unknown, p: fs.PathLike, ...rest: unknown[]): void {
    if (LAYER_DIR.test(String(p))) {
      const callback = rest[rest.length - 1] as (err: NodeJS.ErrnoException) => void;
      const err = Object.assign(new Error(`ENOSPC: no space left on device, mkdir '${String(p)}'`), { code: 'ENOSPC' });
      process.nextTick(callback, err);
      return;
    }
    (realMkdir as (...a: unknown[]) => void).call(this, p, ...rest);
  },
});

// The project's modules (and the helpers, which import them) load after the patch.
const { main } = await import('../../src/main.js');
const { pushStandardArtifact } = await import('../helpers/artifacts.js');
const { copyToMirror } = await import('../helpers/mirrors.js');
const { planJsonFor } = await import('../helpers/resolver.js');
const { startRegistry } = await import('../helpers/registry.js');

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let plan: string;
let upstreamHost: string;
let mirrorHost: string;
let upstreamBlobRequests: () => Promise<number>;

before(async () => {
  const [upstream, mirror] = await Promise.all([startRegistry({ mode: 'plain' }), startRegistry({ mode: 'plain' })]);
  cleanups.push(
    () => upstream.stop(),
    () => mirror.stop(),
  );
  const pushed = await pushStandardArtifact(upstream, 'acme/local-failure', '1.0');
  await copyToMirror(upstream, mirror, 'acme/local-failure:1.0');
  const resolved = JSON.parse(await planJsonFor(upstream, pushed.reference)) as { artifacts: Array<Record<string, unknown>> };
  // The plan the webhook gives when a mirror is in front of the upstream: the mirror first.
  resolved.artifacts[0]!.mirrors = [{ registry: mirror.host, scheme: 'http' }];
  plan = JSON.stringify(resolved);
  upstreamHost = upstream.host;
  mirrorHost = mirror.host;
  await upstream.settledAccessLog();
  upstream.resetAccessLog();
  upstreamBlobRequests = async () => (await upstream.settledAccessLog()).filter((e) => e.kind === 'blob').length;
});

it('fails with the volume error, blames no source and asks no other one', async () => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-local-failure-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  const root = path.join(base, 'root');
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(
    ['fetch', '--root', root, '--pull-secrets-dir', path.join(base, 'none'), '--parallel', '1', '--timeout', '30s'],
    { CAMEL_OCI_PLAN: plan, CAMEL_OCI_INSECURE_REGISTRY: `${upstreamHost},${mirrorHost}` },
    { stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t) },
  );
  assert.equal(code, 1);
  const lines = stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    lines.filter((l) => l.event === 'warning'),
    [],
    'no source was reported failed',
  );
  const error = lines.find((l) => l.event === 'error')!;
  assert.equal(error.code, 'IO_ERROR', JSON.stringify(error));
  assert.match(String(error.message), /cannot create a layer directory/);
  assert.doesNotMatch(String(error.message), /every source/);
  assert.equal(await upstreamBlobRequests(), 0, 'the upstream was not asked for the blob');
  assert.deepEqual(await readdir(root), [], 'nothing landed and the staging area is gone');
});
