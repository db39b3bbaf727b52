/**
 * Registry mirrors end to end with two real registries on loopback: an upstream and a mirror filled
 * with skopeo. Resolution and the fetcher try the mirror first, verify whatever answers, fall back
 * to the upstream when the mirror is down or serves wrong bytes, and keep working from the mirror
 * when the upstream is down.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/main.js';
import { parseResolvedAnnotation } from '../../src/audit/annotations.js';
import { resolvedAnnotationValue } from '../../src/inject/resolved.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';
import { buildPlan, digestHex12 } from '../../src/plan/plan.js';
import type { FetchPlan } from '../../src/plan/plan.js';
import { createResolver } from '../../src/resolve/setup.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { copyToMirror } from '../helpers/mirrors.js';
import { fakeNetwork, fetchOffline, type FakeNetwork } from '../helpers/offline-fetch.js';
import { oneJarPlan } from '../helpers/plans.js';
import { freePort, LOOPBACK } from '../helpers/ports.js';
import { blobPath, startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolves `reference` with `mirrors` in front of `upstream` (all plain, all listed), recording source failures. */
async function resolveVia(
  upstream: string,
  mirrors: string[],
  reference: string,
): Promise<{ artifact: ResolvedArtifact; failures: string[] }> {
  const failures: string[] = [];
  const { resolver, context } = await createResolver({
    registryConfigs: [],
    insecureRegistries: [upstream, ...mirrors],
    allowRegistries: [],
    caFiles: [],
    platform: 'linux/amd64',
    tagTtlMs: 0,
    staleGraceMs: 0,
    mirrors: new Map([[upstream, mirrors]]),
    onSourceFailure: (f) => failures.push(`${f.source.registry} ${f.error.code}`),
  });
  try {
    return { artifact: await resolver.resolve(reference, { signal: AbortSignal.timeout(30_000) }), failures };
  } finally {
    await context.agent.close();
  }
}

interface FetchRun {
  code: number;
  stderr: string;
  lines: Array<Record<string, unknown>>;
  root: string;
}

/** Runs `fetch` as the init container would, the webhook's --insecure-registry handed over in env. */
async function fetchPlan(plan: FetchPlan, insecure: string[], args: string[] = [], env: Record<string, string> = {}): Promise<FetchRun> {
  const base = await tempDir('camel-oci-mirror-fetch-');
  const root = path.join(base, 'root');
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(
    [
      'fetch',
      '--root',
      root,
      '--pull-secrets-dir',
      path.join(base, 'no-secrets'),
      '--termination-log',
      path.join(base, 'no-log'),
      '--timeout',
      '60s',
      ...args,
    ],
    { CAMEL_OCI_PLAN: JSON.stringify(plan), CAMEL_OCI_INSECURE_REGISTRY: insecure.join(','), ...env },
    { stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t) },
  );
  const lines = stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stderr: stderr.join('\n'), lines, root };
}

/** Asserts the standard artifact's jars landed byte for byte. */
async function assertLanded(root: string, pushed: PushedArtifact): Promise<void> {
  const [dep, , raw] = pushed.manifest.layers.map((l) => digestHex12(l.digest));
  assert.deepEqual(await readFile(path.join(root, `dependencies/${dep}/foo-1.0.jar`)), pushed.files.fooJar);
  assert.deepEqual(await readFile(path.join(root, `dependencies/${raw}/raw-lib-3.1.jar`)), pushed.files.rawJar);
}

describe('registry mirrors with a real upstream and a real mirror', () => {
  let upstream: StartedRegistry;
  let mirror: StartedRegistry;
  let good: PushedArtifact;
  let tampered: PushedArtifact;
  let upstreamDown = false;

  before(async () => {
    [upstream, mirror] = await Promise.all([startRegistry({ mode: 'plain' }), startRegistry({ mode: 'plain' })]);
    cleanups.push(
      () => upstream.stop(),
      () => mirror.stop(),
    );
    good = await pushStandardArtifact(upstream, 'acme/mirrored', '1.0');
    tampered = await pushStandardArtifact(upstream, 'acme/tampered', '1.0');
    await copyToMirror(upstream, mirror, 'acme/mirrored:1.0');
    await copyToMirror(upstream, mirror, 'acme/tampered:1.0');
    // The mirror serves other bytes for the raw jar (same length): distribution does not re-check its storage.
    const file = blobPath(mirror.storageDir, tampered.manifest.layers[2]!.digest);
    const bytes = await readFile(file);
    bytes[10] = bytes[10]! ^ 0xff;
    await writeFile(file, bytes);
  });

  it('resolves the tag at the mirror; the pin names the upstream and the annotation records the mirror', async () => {
    await upstream.settledAccessLog();
    upstream.resetAccessLog();
    const { artifact, failures } = await resolveVia(upstream.host, [mirror.host], good.reference);
    assert.deepEqual(failures, []);
    assert.equal(artifact.source, mirror.host);
    assert.equal(artifact.registry, upstream.host);
    assert.equal(artifact.digest, good.manifest.digest);
    assert.deepEqual(artifact.mirrors, [{ registry: mirror.host, scheme: 'http' }]);
    const upstreamManifests = (await upstream.settledAccessLog()).filter((e) => e.kind === 'manifest');
    assert.deepEqual(upstreamManifests, [], 'the upstream was not asked');
    const value = resolvedAnnotationValue([artifact]);
    const record = JSON.parse(value)[0] as Record<string, unknown>;
    assert.equal(record.pinned, `${upstream.host}/acme/mirrored@${good.manifest.digest}`);
    assert.equal(record.source, mirror.host);
    assert.deepEqual(Object.keys(record), ['ref', 'pinned', 'mediaType', 'layers', 'ignored', 'source']);
    assert.equal(parseResolvedAnnotation(value)[0]!.source, mirror.host, 'camel-oci audit reads it');
    assert.throws(
      () => parseResolvedAnnotation(value.replace(`"source":"${mirror.host}"`, '"source":5')),
      (err: { code?: string }) => err.code === 'ANNOTATION_INVALID',
      'a source that is not a host is refused',
    );
    assert.deepEqual(buildPlan([artifact]).artifacts[0]!.mirrors, [{ registry: mirror.host, scheme: 'http' }]);
  });

  it('fetches every layer from the mirror, byte for byte, without asking the upstream', async () => {
    const { artifact } = await resolveVia(upstream.host, [mirror.host], good.reference);
    await Promise.all([upstream.settledAccessLog(), mirror.settledAccessLog()]);
    upstream.resetAccessLog();
    mirror.resetAccessLog();
    const run = await fetchPlan(buildPlan([artifact]), [upstream.host, mirror.host]);
    assert.equal(run.code, 0, run.stderr);
    await assertLanded(run.root, good);
    assert.deepEqual(
      (await upstream.settledAccessLog()).filter((e) => e.kind === 'blob' || e.kind === 'manifest'),
      [],
    );
    const blobs = (await mirror.settledAccessLog()).filter((e) => e.kind === 'blob' && e.method === 'GET' && e.status === 200);
    assert.equal(blobs.length, 4);
  });

  it('uses the upstream when the mirror is down: no source recorded, a warning per failed request', async () => {
    const dead = `${LOOPBACK}:${await freePort()}`;
    const { artifact, failures } = await resolveVia(upstream.host, [dead], good.reference);
    assert.equal(artifact.source, undefined);
    assert.equal(artifact.digest, good.manifest.digest);
    assert.deepEqual(failures, [`${dead} UNAVAILABLE`]);
    assert.equal((JSON.parse(resolvedAnnotationValue([artifact]))[0] as Record<string, unknown>).source, undefined);
    const run = await fetchPlan(buildPlan([artifact]), [upstream.host, dead], ['--parallel', '4']);
    assert.equal(run.code, 0, run.stderr);
    await assertLanded(run.root, good);
    const warnings = run.lines.filter((l) => l.event === 'warning' && l.source === dead);
    assert.equal(warnings.length, 5, 'the manifest and four blobs each tried the mirror first');
    assert.ok(warnings.every((w) => w.code === 'UNAVAILABLE'));
  });

  it('takes the upstream bytes when the mirror serves wrong ones, and warns naming the mirror', async () => {
    const { artifact } = await resolveVia(upstream.host, [mirror.host], tampered.reference);
    assert.equal(artifact.source, mirror.host, 'the manifest itself is intact on the mirror');
    const run = await fetchPlan(buildPlan([artifact]), [upstream.host, mirror.host]);
    assert.equal(run.code, 0, run.stderr);
    await assertLanded(run.root, tampered);
    const warnings = run.lines.filter((l) => l.event === 'warning');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]!.code, 'DIGEST_MISMATCH');
    assert.equal(warnings[0]!.source, mirror.host);
  });

  it('resolves by tag and fetches from the mirror while the upstream is down', async () => {
    await upstream.stop();
    upstreamDown = true;
    const { artifact, failures } = await resolveVia(upstream.host, [mirror.host], good.reference);
    assert.deepEqual(failures, []);
    assert.equal(artifact.source, mirror.host);
    assert.equal(artifact.digest, good.manifest.digest);
    const run = await fetchPlan(buildPlan([artifact]), [upstream.host, mirror.host]);
    assert.equal(run.code, 0, run.stderr);
    await assertLanded(run.root, good);
  });

  it("adds the fetcher's own mirrors (CAMEL_OCI_REGISTRY_MIRROR) to a plan that has none", async () => {
    assert.ok(upstreamDown);
    const plan = buildPlan([{ ...(await resolveVia(upstream.host, [mirror.host], good.reference)).artifact, mirrors: [] }]);
    assert.equal(plan.artifacts[0]!.mirrors, undefined);
    const without = await fetchPlan(plan, [upstream.host, mirror.host]);
    assert.equal(without.code, 1, 'the upstream alone is down');
    const own = await fetchPlan(plan, [upstream.host, mirror.host], [], { CAMEL_OCI_REGISTRY_MIRROR: `${upstream.host}=${mirror.host}` });
    assert.equal(own.code, 0, own.stderr);
    await assertLanded(own.root, good);
  });

  it('fails with DIGEST_MISMATCH naming the mirror when it serves wrong bytes and the upstream is down', async () => {
    assert.ok(upstreamDown);
    const { artifact } = await resolveVia(upstream.host, [mirror.host], tampered.reference);
    const run = await fetchPlan(buildPlan([artifact]), [upstream.host, mirror.host]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /DIGEST_MISMATCH/);
    assert.ok(run.stderr.includes(`mirror ${mirror.host}`), run.stderr);
    assert.ok(run.stderr.includes(tampered.manifest.layers[2]!.digest), 'names the layer');
    const error = run.lines.find((l) => l.event === 'error')!;
    assert.equal(error.code, 'DIGEST_MISMATCH');
  });
});

describe('fetch applies its own policy to mirrors, whatever the plan says', () => {
  async function run(plan: FetchPlan, args: string[], net: FakeNetwork): Promise<{ code: number; stderr: string }> {
    return fetchOffline(plan, args, net, await tempDir('camel-oci-mirror-policy-'));
  }

  function withMirror(registry: string, scheme: 'http' | 'https'): FetchPlan {
    const plan = oneJarPlan('registry.example.test');
    return { ...plan, artifacts: [{ ...plan.artifacts[0]!, mirrors: [{ registry, scheme }] }] };
  }

  it('refuses a plan mirror whose name now resolves to a private address: POLICY_DENIED, no connect', async () => {
    const net = fakeNetwork('10.0.0.7');
    const got = await run(withMirror('mirror.example.test', 'https'), [], net);
    assert.equal(got.code, 1);
    assert.match(got.stderr, /POLICY_DENIED/);
    assert.match(got.stderr, /10\.0\.0\.7/);
    assert.deepEqual(net.connects, []);
  });

  it('refuses a plan mirror at a loopback literal not listed, and its own --registry-mirror at a metadata address', async () => {
    const net = fakeNetwork('169.254.169.254');
    const loop = await run(withMirror('127.0.0.1:5999', 'https'), [], net);
    assert.equal(loop.code, 1);
    assert.match(loop.stderr, /POLICY_DENIED/);
    const own = await run(oneJarPlan('registry.example.test'), ['--registry-mirror', 'registry.example.test=mirror.example.test'], net);
    assert.equal(own.code, 1);
    assert.match(own.stderr, /POLICY_DENIED/);
    assert.match(own.stderr, /169\.254\.169\.254/);
    assert.deepEqual(net.connects, []);
  });

  it('refuses a plan mirror asking plain HTTP that the fetcher does not list as insecure, before any lookup', async () => {
    const net = fakeNetwork('93.184.215.14');
    const got = await run(withMirror('mirror.example.test:5000', 'http'), ['--insecure-registry', 'other.example.test'], net);
    assert.equal(got.code, 1);
    assert.match(got.stderr, /POLICY_DENIED/);
    assert.match(got.stderr, /mirror\.example\.test:5000/);
    assert.deepEqual(net.connects, []);
  });

  it('refuses a plan mirror off the fetcher allow-list', async () => {
    const net = fakeNetwork('93.184.215.14');
    const got = await run(withMirror('mirror.example.test', 'https'), ['--allow-registry', 'registry.example.test'], net);
    assert.equal(got.code, 1);
    assert.match(got.stderr, /POLICY_DENIED/);
    assert.deepEqual(net.connects, []);
  });
});
