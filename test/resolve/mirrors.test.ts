/**
 * The resolver with registry mirrors, against real registries on loopback: credentials per mirror
 * host (the upstream's never reach a mirror), a mirror serving a manifest with wrong bytes, the HEAD
 * tag refresh at the mirror, distribution's pull-through cache as a mirror, and the policy on
 * mirrors (DNS and connector injected, so nothing leaves loopback).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/main.js';
import type { CamelOciError } from '../../src/base/errors.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';
import { buildPlan, digestHex12 } from '../../src/plan/plan.js';
import type { Connector, LookupAll } from '../../src/registry/transport.js';
import { createResolver } from '../../src/resolve/setup.js';
import type { ResolverSettings } from '../../src/resolve/setup.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { copyToMirror, startRecordingProxy } from '../helpers/mirrors.js';
import { blobPath, startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function settings(upstream: string, mirrors: string[], extra: Partial<ResolverSettings> = {}): ResolverSettings {
  return {
    registryConfigs: [],
    insecureRegistries: [],
    allowRegistries: [],
    caFiles: [],
    platform: 'linux/amd64',
    tagTtlMs: 0,
    staleGraceMs: 0,
    mirrors: new Map([[upstream, mirrors]]),
    ...extra,
  };
}

/** Resolves once with fresh caches; returns the artifact and the source failures seen. */
async function resolveOnce(s: ResolverSettings, reference: string): Promise<{ artifact: ResolvedArtifact; failures: string[] }> {
  const failures: string[] = [];
  const { resolver, context } = await createResolver({
    ...s,
    onSourceFailure: (f) => failures.push(`${f.source.registry} ${f.error.code}`),
  });
  try {
    return { artifact: await resolver.resolve(reference, { signal: AbortSignal.timeout(30_000) }), failures };
  } finally {
    await context.agent.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** One docker config text with the credentials of several registries. */
function mergedDockerConfig(...registries: StartedRegistry[]): string {
  const auths = Object.assign({}, ...registries.map((r) => (JSON.parse(r.dockerConfig()) as { auths: object }).auths));
  return JSON.stringify({ auths });
}

describe('credentials per mirror host', () => {
  let upstream: StartedRegistry;
  let mirror: StartedRegistry;
  let plainMirror: StartedRegistry;
  let pushed: PushedArtifact;

  before(async () => {
    [upstream, mirror, plainMirror] = await Promise.all([
      startRegistry({ mode: 'basic', users: { alice: 'upstream-secret' } }),
      startRegistry({ mode: 'basic', users: { bob: 'mirror-secret' } }),
      startRegistry({ mode: 'plain' }),
    ]);
    cleanups.push(
      () => upstream.stop(),
      () => mirror.stop(),
      () => plainMirror.stop(),
    );
    pushed = await pushStandardArtifact(upstream, 'acme/private', '1.0');
    await copyToMirror(upstream, mirror, 'acme/private:1.0');
    await copyToMirror(upstream, plainMirror, 'acme/private:1.0');
  });

  it('reads the mirror with its own credentials and the upstream with its own', async () => {
    const dir = await tempDir('camel-oci-mirror-creds-');
    const config = path.join(dir, 'config.json');
    await writeFile(config, mergedDockerConfig(upstream, mirror));
    const s = settings(upstream.host, [mirror.host], {
      registryConfigs: [config],
      caFiles: [upstream.caFile!, mirror.caFile!],
      allowRegistries: [upstream.host, mirror.host],
    });
    const { artifact, failures } = await resolveOnce(s, pushed.reference);
    assert.deepEqual(failures, []);
    assert.equal(artifact.source, mirror.host);
    assert.equal(artifact.credentials, 'webhook');
    // The fetcher, given the same config, reads every blob from the mirror with bob's credentials.
    await Promise.all([upstream.settledAccessLog(), mirror.settledAccessLog()]);
    mirror.resetAccessLog();
    upstream.resetAccessLog();
    const root = path.join(dir, 'root');
    const stderr: string[] = [];
    const code = await main(
      [
        'fetch',
        '--root',
        root,
        '--pull-secrets-dir',
        path.join(dir, 'none'),
        '--termination-log',
        path.join(dir, 'none-log'),
        '--registry-config',
        config,
        '--ca-file',
        upstream.caFile!,
        '--ca-file',
        mirror.caFile!,
        '--allow-registry',
        `${upstream.host},${mirror.host}`,
      ],
      { CAMEL_OCI_PLAN: JSON.stringify(buildPlan([artifact])) },
      { stdout: () => undefined, stderr: (t) => stderr.push(t) },
    );
    assert.equal(code, 0, stderr.join('\n'));
    assert.deepEqual(
      await readFile(path.join(root, `dependencies/${digestHex12(pushed.manifest.layers[2]!.digest)}/raw-lib-3.1.jar`)),
      pushed.files.rawJar,
    );
    const mirrorLog = await mirror.settledAccessLog();
    assert.ok(mirrorLog.filter((e) => e.kind === 'blob' && e.status === 200).length === 4, JSON.stringify(mirrorLog));
    assert.deepEqual(
      (await upstream.settledAccessLog()).filter((e) => e.kind !== 'base'),
      [],
    );
  });

  it('never offers the upstream credentials to the mirror: without its own, the mirror refuses and the upstream answers', async () => {
    const dir = await tempDir('camel-oci-mirror-creds-');
    const config = path.join(dir, 'config.json');
    await writeFile(config, upstream.dockerConfig());
    await mirror.settledAccessLog();
    mirror.resetAccessLog();
    const s = settings(upstream.host, [mirror.host], {
      registryConfigs: [config],
      caFiles: [upstream.caFile!, mirror.caFile!],
      allowRegistries: [upstream.host, mirror.host],
    });
    const { artifact, failures } = await resolveOnce(s, pushed.reference);
    assert.equal(artifact.source, undefined);
    assert.deepEqual(failures, [`${mirror.host} UNAUTHORIZED`]);
    const mirrorManifests = (await mirror.settledAccessLog()).filter((e) => e.kind === 'manifest');
    assert.ok(mirrorManifests.length >= 1 && mirrorManifests.every((e) => e.status === 401), JSON.stringify(mirrorManifests));
  });

  it('sends no Authorization header to a mirror that has no credentials of its own (seen by a recording proxy)', async () => {
    const proxy = await startRecordingProxy(plainMirror);
    cleanups.push(() => proxy.close());
    const dir = await tempDir('camel-oci-mirror-creds-');
    const config = path.join(dir, 'config.json');
    await writeFile(config, upstream.dockerConfig());
    const s = settings(upstream.host, [proxy.host], {
      registryConfigs: [config],
      caFiles: [upstream.caFile!],
      insecureRegistries: [proxy.host],
      allowRegistries: [upstream.host, proxy.host],
    });
    const { artifact } = await resolveOnce(s, pushed.reference);
    assert.equal(artifact.source, proxy.host);
    const stderr: string[] = [];
    const code = await main(
      [
        'fetch',
        '--root',
        path.join(dir, 'root'),
        '--pull-secrets-dir',
        path.join(dir, 'none'),
        '--termination-log',
        path.join(dir, 'none-log'),
        '--registry-config',
        config,
        '--ca-file',
        upstream.caFile!,
        '--insecure-registry',
        proxy.host,
        '--allow-registry',
        `${upstream.host},${proxy.host}`,
      ],
      { CAMEL_OCI_PLAN: JSON.stringify(buildPlan([artifact])) },
      { stdout: () => undefined, stderr: (t) => stderr.push(t) },
    );
    assert.equal(code, 0, stderr.join('\n'));
    assert.ok(proxy.authorizations.length >= 6, `the mirror answered manifest and blobs (${proxy.authorizations.length} requests)`);
    assert.deepEqual(
      proxy.authorizations.filter((a) => a !== undefined),
      [],
      'no Authorization reached the mirror',
    );
  });
});

describe('a mirror that serves wrong manifest bytes, and the HEAD refresh at the mirror', () => {
  let upstream: StartedRegistry;
  let mirror: StartedRegistry;
  let pushed: PushedArtifact;
  let intact: PushedArtifact;

  before(async () => {
    [upstream, mirror] = await Promise.all([startRegistry({ mode: 'plain' }), startRegistry({ mode: 'plain' })]);
    cleanups.push(
      () => upstream.stop(),
      () => mirror.stop(),
    );
    pushed = await pushStandardArtifact(upstream, 'acme/bad-manifest', '1.0');
    intact = await pushStandardArtifact(upstream, 'acme/refresh', '1.0');
    await copyToMirror(upstream, mirror, 'acme/bad-manifest:1.0');
    await copyToMirror(upstream, mirror, 'acme/refresh:1.0');
    // Still valid JSON, so the mirror serves it: one letter of a layer title changed.
    const file = blobPath(mirror.storageDir, pushed.manifest.digest);
    const text = await readFile(file, 'utf8');
    assert.ok(text.includes('raw-lib-3.1.jar'));
    await writeFile(file, text.replace('raw-lib-3.1.jar', 'raw-lib-3.2.jar'));
  });

  const plain = (u: StartedRegistry, m: StartedRegistry): ResolverSettings =>
    settings(u.host, [m.host], { insecureRegistries: [u.host, m.host] });

  it('by tag and by digest: the mirror fails with DIGEST_MISMATCH, the upstream answers', async () => {
    const byTag = await resolveOnce(plain(upstream, mirror), pushed.reference);
    assert.deepEqual(byTag.failures, [`${mirror.host} DIGEST_MISMATCH`]);
    assert.equal(byTag.artifact.source, undefined);
    assert.equal(byTag.artifact.digest, pushed.manifest.digest);
    const byDigest = await resolveOnce(plain(upstream, mirror), `${upstream.host}/acme/bad-manifest@${pushed.manifest.digest}`);
    assert.deepEqual(byDigest.failures, [`${mirror.host} DIGEST_MISMATCH`]);
    assert.equal(byDigest.artifact.source, undefined);
  });

  it('refreshes a known tag with a HEAD at the mirror, never at the upstream', async () => {
    const { resolver, context } = await createResolver(plain(upstream, mirror));
    try {
      const first = await resolver.resolve(intact.reference);
      assert.equal(first.source, mirror.host);
      await Promise.all([upstream.settledAccessLog(), mirror.settledAccessLog()]);
      upstream.resetAccessLog();
      mirror.resetAccessLog();
      const again = await resolver.resolve(intact.reference);
      assert.equal(again.digest, first.digest);
      assert.equal(again.source, mirror.host);
      const m = (await mirror.settledAccessLog()).filter((e) => e.kind === 'manifest');
      assert.deepEqual(
        m.map((e) => e.method),
        ['HEAD'],
      );
      assert.deepEqual(
        (await upstream.settledAccessLog()).filter((e) => e.kind === 'manifest'),
        [],
      );
    } finally {
      await context.agent.close();
    }
  });
});

describe("distribution's pull-through cache as a mirror", () => {
  it('answers as a mirror, and keeps answering by digest once the upstream is down', async () => {
    const upstream = await startRegistry({ mode: 'plain' });
    cleanups.push(() => upstream.stop());
    const cache = await startRegistry({ mode: 'plain', extraConfig: { proxy: { remoteurl: upstream.url } } });
    cleanups.push(() => cache.stop());
    const pushed = await pushStandardArtifact(upstream, 'acme/cached', '1.0');
    const s = settings(upstream.host, [cache.host], { insecureRegistries: [upstream.host, cache.host] });
    const { artifact, failures } = await resolveOnce(s, pushed.reference);
    assert.deepEqual(failures, []);
    assert.equal(artifact.source, cache.host);
    assert.equal(artifact.digest, pushed.manifest.digest);
    // The cache fetched the manifest from the upstream on our behalf.
    assert.ok((await upstream.settledAccessLog()).some((e) => e.kind === 'manifest' && e.status === 200));
    // Fill the cache's blobs through a fetch, then take the upstream away.
    const dir = await tempDir('camel-oci-pull-through-');
    const output: string[] = [];
    const runFetch = async (root: string): Promise<number> =>
      main(
        [
          'fetch',
          '--root',
          root,
          '--pull-secrets-dir',
          path.join(dir, 'none'),
          '--termination-log',
          path.join(dir, 'none-log'),
          '--insecure-registry',
          `${upstream.host},${cache.host}`,
        ],
        { CAMEL_OCI_PLAN: JSON.stringify(buildPlan([artifact])) },
        { stdout: (t) => output.push(t), stderr: (t) => output.push(t) },
      );
    assert.equal(await runFetch(path.join(dir, 'one')), 0, output.join('\n'));
    // The cache stores a blob while it streams it on, and commits it just after: wait (bounded) for every layer.
    const stored = pushed.manifest.layers.slice(0, 4).map((l) => blobPath(cache.storageDir, l.digest));
    await eventually(async () => (await Promise.all(stored.map(exists))).every(Boolean), { stepMs: 50 });
    await upstream.stop();
    const pinned = `${upstream.host}/acme/cached@${pushed.manifest.digest}`;
    const offline = await resolveOnce(s, pinned);
    assert.equal(offline.artifact.source, cache.host);
    assert.equal(await runFetch(path.join(dir, 'two')), 0, output.join('\n'));
    assert.deepEqual(
      await readFile(path.join(dir, 'two', `dependencies/${digestHex12(pushed.manifest.layers[2]!.digest)}/raw-lib-3.1.jar`)),
      pushed.files.rawJar,
    );
  });
});

describe('the registry policy applies to mirrors (DNS and connector injected: nothing leaves loopback)', () => {
  function recordingConnector(attempts: string[]): Connector {
    return (opts, cb) => {
      attempts.push(`${opts.hostname}:${opts.port}`);
      cb(new Error('test connector: no connections allowed'), null);
    };
  }
  const lookup: LookupAll = async (host) => [{ address: host.startsWith('mirror') ? '10.0.0.7' : '93.184.215.14', family: 4 }];

  async function rejects(mirrors: string[], extra: Partial<ResolverSettings>, pattern: RegExp, attempts: string[]): Promise<void> {
    const { resolver, context } = await createResolver(
      settings('registry.example.test', mirrors, { lookup, connector: recordingConnector(attempts), ...extra }),
    );
    try {
      await assert.rejects(
        resolver.resolve('registry.example.test/acme/deps:1', { signal: AbortSignal.timeout(10_000) }),
        (err: CamelOciError) => err.code === 'POLICY_DENIED' && pattern.test(err.message),
      );
    } finally {
      await context.agent.close();
    }
  }

  it('refuses at start-up a --registry-mirror the allow-list refuses (CONFIG_INVALID naming it)', async () => {
    await assert.rejects(
      createResolver(settings('registry.example.test', ['other.example.test'], { allowRegistries: ['registry.example.test'] })),
      (err: CamelOciError) =>
        err.code === 'CONFIG_INVALID' && err.message.includes('other.example.test') && /--allow-registry/.test(err.message),
    );
  });

  it('refuses a mirror whose name resolves to a private address, without trying the upstream', async () => {
    const attempts: string[] = [];
    await rejects(['mirror.example.test'], {}, /10\.0\.0\.7/, attempts);
    assert.deepEqual(attempts, []);
  });

  it('refuses a mirror at a loopback literal that is not listed', async () => {
    const attempts: string[] = [];
    await rejects(['127.0.0.1:5999'], {}, /127\.0\.0\.1/, attempts);
    assert.deepEqual(attempts, []);
  });
});
