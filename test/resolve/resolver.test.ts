/** The Resolver against a real registry (distribution) in plain, TLS, basic-auth and token-auth modes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerConfig } from '../../src/oci/docker-config.js';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCamelOciError } from '../../src/base/errors.js';
import type { CamelOciError } from '../../src/base/errors.js';
import { createResolver } from '../../src/resolve/setup.js';
import type { ResolverSettings } from '../../src/resolve/setup.js';
import type { Resolver } from '../../src/resolve/resolver.js';
import type { Connector, LookupAll } from '../../src/registry/transport.js';
import { blobPath, startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { createResolverFor, settingsFor } from '../helpers/resolver.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { resolveReferences } from '../../src/admit/references.js';
import { pushBuilt, pushStandardArtifact, pushTwoPlatformIndex } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';

const closers: Array<() => Promise<void>> = [];

async function resolverFor(registry: StartedRegistry, extra: Partial<ResolverSettings> = {}): Promise<Resolver> {
  const { resolver, context } = await createResolverFor(registry, extra);
  closers.push(() => context.agent.close());
  return resolver;
}

async function rejectsWith(promise: Promise<unknown>, code: string, messagePart?: RegExp): Promise<CamelOciError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isCamelOciError(err), `expected a CamelOciError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (messagePart) assert.match(err.message, messagePart);
    return err;
  }
  assert.fail(`expected rejection with ${code}`);
}

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

describe('resolver against a plain HTTP registry', () => {
  let registry: StartedRegistry;
  let artifact: PushedArtifact;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    closers.push(() => registry.stop());
    artifact = await pushStandardArtifact(registry);
  });

  it('pins the digest of the bytes skopeo pushed and selects the annotated layers', async () => {
    const resolver = await resolverFor(registry);
    const a = await resolver.resolve(`container:${artifact.reference}`);
    assert.equal(a.digest, artifact.manifest.digest);
    assert.equal(a.domain, registry.host);
    assert.equal(a.repository, 'acme/deps');
    assert.equal(a.scheme, 'http');
    assert.equal(a.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const layers = artifact.manifest.layers;
    assert.deepEqual(
      a.layers.map((l) => [l.digest, l.kind, l.format, l.name, l.fileName]),
      [
        [layers[0]!.digest, 'dependency', 'tar+gzip', 'com.acme:foo:1.0', undefined],
        [layers[1]!.digest, 'kamelets', 'tar', 'acme-kamelets', undefined],
        [layers[2]!.digest, 'dependency', 'raw', 'raw-lib-3.1.jar', 'raw-lib-3.1.jar'],
        [layers[3]!.digest, 'dependency', 'tar', 'com.acme:plain:4.0', undefined],
      ],
    );
    assert.equal(a.layers[0]!.size, layers[0]!.size);
    assert.deepEqual(
      a.ignored.map((l) => l.digest),
      [layers[4]!.digest],
    );
  });

  it('answers a warm reference with the same frozen instance; another spelling gets one frozen copy naming it', async () => {
    const resolver = await resolverFor(registry);
    const first = await resolver.resolve(`container:${artifact.reference}`);
    assert.ok(Object.isFrozen(first));
    assert.equal(await resolver.resolve(`container:${artifact.reference}`), first);
    const spelled = await resolver.resolve(` ${artifact.reference} `);
    assert.equal(spelled.reference, artifact.reference);
    assert.ok(Object.isFrozen(spelled));
    const byDigest = `${artifact.reference}@${artifact.manifest.digest}`;
    const pinned = await resolver.resolve(byDigest);
    assert.equal(pinned.reference, byDigest);
    assert.equal(pinned.digest, first.digest);
    assert.equal(await resolver.resolve(byDigest), pinned, 'the copy is kept, not made again');
    assert.deepEqual({ ...pinned, reference: first.reference }, { ...first });
  });

  it('resolves a digest reference and refuses one the registry does not have', async () => {
    const resolver = await resolverFor(registry);
    const byDigest = await resolver.resolve(`${registry.host}/acme/deps@${artifact.manifest.digest}`);
    assert.equal(byDigest.digest, artifact.manifest.digest);
    await rejectsWith(resolver.resolve(`${registry.host}/acme/deps@sha256:${'0'.repeat(64)}`), 'MANIFEST_UNKNOWN', /acme\/deps/);
  });

  it('names unknown repositories and tags with the registry error code', async () => {
    const resolver = await resolverFor(registry);
    // distribution 2.8 answers MANIFEST_UNKNOWN (not NAME_UNKNOWN) for a repository it never had.
    const err = await rejectsWith(
      resolver.resolve(`${registry.host}/acme/nothing-here:1.0`),
      'MANIFEST_UNKNOWN',
      /container:127\.0\.0\.1:\d+\/acme\/nothing-here:1\.0.*HTTP 404/,
    );
    assert.equal(err.retryable, false);
    await rejectsWith(resolver.resolve(`${registry.host}/acme/deps:9.9`), 'MANIFEST_UNKNOWN', /acme\/deps:9\.9/);
  });

  it('refuses malformed references before any request', async () => {
    const resolver = await resolverFor(registry);
    await registry.settledAccessLog();
    registry.resetAccessLog();
    for (const bad of [
      '',
      'container:',
      'docker.io/UPPER/case:1',
      'acme/deps:-bad',
      'acme/deps@sha256:abc',
      'a'.repeat(2000),
      'acme//deps:1',
    ]) {
      await rejectsWith(resolver.resolve(bad), 'REFERENCE_INVALID');
    }
    assert.equal((await registry.settledAccessLog()).length, 0);
  });

  it('selects the platform of an index, lists what exists when none matches', async () => {
    const { index, amd64, arm64 } = await pushTwoPlatformIndex(registry);
    const resolver = await resolverFor(registry);
    const a = await resolver.resolve(`${registry.host}/acme/multi:1.0`);
    assert.equal(a.digest, amd64.digest);
    assert.equal(a.indexDigest, index.digest);
    assert.equal(a.platform, 'linux/amd64');
    const b = await resolver.resolve(`${registry.host}/acme/multi:1.0`, { platform: 'linux/arm64' });
    assert.equal(b.digest, arm64.digest);
    await rejectsWith(
      resolver.resolve(`${registry.host}/acme/multi:1.0`, { platform: 'linux/s390x' }),
      'PLATFORM_NOT_FOUND',
      /linux\/amd64.*linux\/arm64|linux\/arm64.*linux\/amd64/,
    );
  });

  it('refuses an artifact with no usable layer, saying why each was ignored', async () => {
    await pushBuilt(registry, 'acme/empty:1.0', (layout) => layout.manifest({ layers: [{ bytes: 'x', mediaType: 'text/plain' }] }));
    const resolver = await resolverFor(registry);
    await rejectsWith(resolver.resolve(`${registry.host}/acme/empty:1.0`), 'NO_USABLE_LAYERS', /acme\/empty/);
  });

  it('refreshTags asks the registry for a tag that is still fresh in the cache, and sees where it moved', async () => {
    const first = await pushStandardArtifact(registry, 'acme/refresh', '1.0');
    const resolver = await resolverFor(registry);
    assert.equal((await resolver.resolve(first.reference)).digest, first.manifest.digest);
    const second = await pushStandardArtifact(registry, 'acme/refresh', '1.0');
    // Within the 60 s tag TTL a plain resolution answers from the cache: the old digest.
    assert.equal((await resolver.resolve(first.reference)).digest, first.manifest.digest);
    await registry.settledAccessLog();
    registry.resetAccessLog();
    assert.equal((await resolver.resolve(first.reference, { refreshTags: true })).digest, second.manifest.digest);
    const tagGets = (await registry.settledAccessLog()).filter((e) => e.kind === 'manifest' && e.reference === '1.0');
    assert.equal(tagGets.length, 1);
    // The refreshed answer is cached for later plain resolutions.
    assert.equal((await resolver.resolve(first.reference)).digest, second.manifest.digest);
  });

  it('makes one manifest request for concurrent resolutions of one tag, and none while the tag is fresh', async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/burst', '1.0');
    const resolver = await resolverFor(registry);
    await registry.settledAccessLog();
    registry.resetAccessLog();
    const results = await Promise.all(Array.from({ length: 25 }, () => resolver.resolve(pushed.reference)));
    assert.ok(results.every((r) => r.digest === pushed.manifest.digest));
    let manifestGets = (await registry.settledAccessLog()).filter((e) => e.kind === 'manifest');
    assert.equal(manifestGets.length, 1, JSON.stringify(manifestGets));
    registry.resetAccessLog();
    await Promise.all(Array.from({ length: 10 }, () => resolver.resolve(pushed.reference)));
    await resolver.resolve(`${registry.host}/acme/burst@${pushed.manifest.digest}`);
    manifestGets = (await registry.settledAccessLog()).filter((e) => e.kind === 'manifest');
    assert.equal(manifestGets.length, 0);
  });

  it('refuses a manifest whose bytes do not match the digest (tampered storage)', async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/tampered', '1.0');
    const file = blobPath(registry.storageDir, pushed.manifest.digest);
    const original = await readFile(file);
    const forged = Buffer.from(original.toString('utf8').replace('com.acme:foo:1.0', 'com.evil:foo:1.0'));
    assert.equal(forged.length, original.length);
    await writeFile(file, forged);
    const resolver = await resolverFor(registry);
    await rejectsWith(resolver.resolve(`${registry.host}/acme/tampered@${pushed.manifest.digest}`), 'DIGEST_MISMATCH', /acme\/tampered/);
    await rejectsWith(resolver.resolve(`${registry.host}/acme/tampered:1.0`), 'DIGEST_MISMATCH');
  });

  it('refuses a manifest over 4 MiB, announced or streamed', async () => {
    // distribution itself refuses to store or serve manifests over 4 MiB, so a misbehaving registry
    // is stood in for by a loopback server that answers one oversize manifest, with and without
    // Content-Length (the streamed body must be cut off at the limit, not read whole).
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    let bytesSent = 0;
    const server = createHttpServer((req, res) => {
      const chunked = req.url!.includes('streamed');
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        ...(chunked ? {} : { 'content-length': big.length }),
      });
      res.on('close', () => undefined);
      const write = (offset: number): void => {
        while (offset < big.length) {
          const chunk = big.subarray(offset, offset + 65536);
          bytesSent += chunk.length;
          offset += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', () => write(offset));
            return;
          }
        }
        res.end();
      };
      write(0);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    closers.push(
      () =>
        new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const { resolver, context } = await createResolver({
      registryConfigs: [],
      insecureRegistries: [host],
      allowRegistries: [host],
      caFiles: [],
      platform: 'linux/amd64',
      tagTtlMs: 1000,
      staleGraceMs: 1000,
    });
    closers.push(() => context.agent.close());
    await rejectsWith(resolver.resolve(`${host}/acme/huge:1.0`), 'SIZE_EXCEEDED', /4194304/);
    await rejectsWith(resolver.resolve(`${host}/acme/streamed:1.0`), 'SIZE_EXCEEDED', /4194304/);
    assert.ok(bytesSent < 2 * big.length, 'the streamed body was not read to its end');
  });
});

describe('resolver against TLS registries', () => {
  let tls: StartedRegistry;
  let basic: StartedRegistry;
  let token: StartedRegistry;
  let tmp: string;
  before(async () => {
    [tls, basic, token] = await Promise.all([
      startRegistry({ mode: 'tls' }),
      startRegistry({ mode: 'basic' }),
      startRegistry({ mode: 'token', anonymousPull: false }),
    ]);
    closers.push(
      () => tls.stop(),
      () => basic.stop(),
      () => token.stop(),
    );
    tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-resolver-'));
    closers.push(() => rm(tmp, { recursive: true, force: true }));
  });

  it('verifies the registry certificate with --ca-file and refuses it without', async () => {
    const pushed = await pushStandardArtifact(tls);
    const ok = await (await resolverFor(tls)).resolve(pushed.reference);
    assert.equal(ok.digest, pushed.manifest.digest);
    assert.equal(ok.scheme, 'https');
    await rejectsWith((await resolverFor(tls, { caFiles: [] })).resolve(pushed.reference), 'TLS_ERROR', /--ca-file/);
  });

  it('authenticates with Basic credentials from a docker config, and says UNAUTHORIZED without or with wrong ones', async () => {
    const pushed = await pushStandardArtifact(basic);
    const config = await basic.writeDockerConfig(tmp);
    const a = await (await resolverFor(basic, { registryConfigs: [config] })).resolve(pushed.reference);
    assert.equal(a.digest, pushed.manifest.digest);
    await rejectsWith((await resolverFor(basic)).resolve(pushed.reference), 'UNAUTHORIZED', /credentials/);
    const wrong = path.join(tmp, 'wrong.json');
    await writeFile(wrong, JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from('alice:nope').toString('base64') } } }));
    await rejectsWith((await resolverFor(basic, { registryConfigs: [wrong] })).resolve(pushed.reference), 'UNAUTHORIZED');
  });

  it("does not hand a resolution made with one pod's credentials to a pod without them", async () => {
    const pushed = await pushStandardArtifact(basic, 'acme/private', '1.0');
    const resolver = await resolverFor(basic);
    const withSecret = await resolver.resolve(pushed.reference, { pullSecrets: [parseDockerConfig(basic.dockerConfig(), 'pull secret')] });
    assert.equal(withSecret.digest, pushed.manifest.digest);
    assert.equal(withSecret.credentials, 'pod');
    await rejectsWith(resolver.resolve(pushed.reference), 'UNAUTHORIZED');
  });

  it('keeps credentials per request while the reference is prepared once: without, with, without, with', async () => {
    const pushed = await pushStandardArtifact(basic, 'acme/private2', '1.0');
    const resolver = await resolverFor(basic);
    const secret = { pullSecrets: [parseDockerConfig(basic.dockerConfig(), 'pull secret')] };
    await rejectsWith(resolver.resolve(pushed.reference), 'UNAUTHORIZED');
    const withSecret = await resolver.resolve(pushed.reference, secret);
    assert.equal(withSecret.credentials, 'pod');
    await rejectsWith(resolver.resolve(pushed.reference), 'UNAUTHORIZED');
    assert.equal(await resolver.resolve(pushed.reference, secret), withSecret);
  });

  it('says when only its own credentials could resolve a reference', async () => {
    const pushed = await pushStandardArtifact(basic, 'acme/own', '1.0');
    const config = await basic.writeDockerConfig(tmp);
    const a = await (await resolverFor(basic, { registryConfigs: [config] })).resolve(pushed.reference);
    assert.equal(a.credentials, 'webhook');
  });

  it('uses a pod pull secret before its own credentials', async () => {
    const pushed = await pushStandardArtifact(basic, 'acme/pullsecret', '1.0');
    const a = await (
      await resolverFor(basic)
    ).resolve(pushed.reference, { pullSecrets: [parseDockerConfig(basic.dockerConfig(), 'pull secret')] });
    assert.equal(a.digest, pushed.manifest.digest);
  });

  it('runs the Bearer token flow against the real registry and caches the token', async () => {
    const pushed = await pushStandardArtifact(token);
    const second = await pushStandardArtifact(token, 'acme/deps', '2.0');
    const config = await token.writeDockerConfig(tmp);
    const resolver = await resolverFor(token, { registryConfigs: [config] });
    const before = token.tokenIssuer!.requestCount();
    const a = await resolver.resolve(pushed.reference);
    assert.equal(a.digest, pushed.manifest.digest);
    const b = await resolver.resolve(second.reference);
    assert.equal(b.digest, second.manifest.digest);
    assert.equal(token.tokenIssuer!.requestCount() - before, 1, 'one token for the repository scope, reused');
    await rejectsWith((await resolverFor(token)).resolve(pushed.reference), 'UNAUTHORIZED');
  });

  it("reaches the token server on the registry's host at another port with only the registry allowed", async () => {
    const pushed = await pushStandardArtifact(token, 'acme/realm', '1.0');
    const config = await token.writeDockerConfig(tmp);
    const issuer = new URL(token.tokenIssuer!.url);
    assert.equal(issuer.hostname, new URL(`https://${token.host}`).hostname);
    assert.notEqual(issuer.host, token.host, 'the issuer listens on a port of its own');
    const resolver = await resolverFor(token, { registryConfigs: [config], allowRegistries: [token.host] });
    const before = token.tokenIssuer!.requestCount();
    assert.equal((await resolver.resolve(pushed.reference)).digest, pushed.manifest.digest);
    assert.equal(token.tokenIssuer!.requestCount() - before, 1);
  });
});

describe('resolver deadlines and policy', () => {
  it('gives up on a registry that accepts connections and never answers, by the deadline', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const { resolver, context } = await createResolver({
        registryConfigs: [],
        insecureRegistries: [`127.0.0.1:${port}`],
        allowRegistries: [`127.0.0.1:${port}`],
        caFiles: [],
        platform: 'linux/amd64',
        tagTtlMs: 1000,
        staleGraceMs: 1000,
      });
      const started = Date.now();
      await rejectsWith(resolver.resolve(`127.0.0.1:${port}/acme/slow:1.0`, { signal: AbortSignal.timeout(800) }), 'TIMEOUT');
      assert.ok(Date.now() - started < 3000, 'bounded by the caller deadline');
      await context.agent.close().catch(() => undefined);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  /** A connector that never opens a socket: if policy fails, the test sees the attempt, and no packet leaves. */
  function recordingConnector(attempts: string[]): Connector {
    return (opts, cb) => {
      attempts.push(`${opts.hostname}:${opts.port}`);
      cb(new Error('test connector: no connections allowed'), null);
    };
  }

  /** A resolver with `lookup` for DNS whose connector records, and refuses, every connect. */
  function policyResolver(lookup: LookupAll, attempts: string[], allowRegistries: string[] = []) {
    return createResolver({
      registryConfigs: [],
      insecureRegistries: [],
      allowRegistries,
      caFiles: [],
      platform: 'linux/amd64',
      tagTtlMs: 1000,
      staleGraceMs: 1000,
      lookup,
      connector: recordingConnector(attempts),
    });
  }

  it('refuses a registry name that resolves to the cloud metadata address', async () => {
    const attempts: string[] = [];
    const lookup: LookupAll = async () => [{ address: '169.254.169.254', family: 4 }];
    const { resolver } = await policyResolver(lookup, attempts);
    await rejectsWith(resolver.resolve('container:metadata.example.test/acme/deps:1.0'), 'POLICY_DENIED', /169\.254\.169\.254/);
    assert.equal(attempts.length, 0, attempts.join());
  });

  it('refuses private and loopback literals unless allowed, and registries outside the allow-list', async () => {
    const attempts: string[] = [];
    const lookup: LookupAll = async () => [{ address: '93.184.215.14', family: 4 }];
    const { resolver } = await policyResolver(lookup, attempts);
    for (const ref of [
      '10.1.2.3/acme/deps:1',
      '127.0.0.1:5000/acme/deps:1',
      '[::1]:5000/acme/deps:1',
      '[::ffff:a9fe:a9fe]/acme/deps:1',
      '[fd00:ec2::254]/acme/deps:1',
      '192.168.1.1/x:1',
    ]) {
      await rejectsWith(resolver.resolve(ref), 'POLICY_DENIED');
    }
    assert.equal(attempts.length, 0, attempts.join());
    const { resolver: strict } = await policyResolver(lookup, attempts, ['*.example.com']);
    await rejectsWith(strict.resolve('quay.io/acme/deps:1'), 'POLICY_DENIED', /--allow-registry/);
    await rejectsWith(strict.resolve('example.com/acme/deps:1'), 'POLICY_DENIED');
    // A refused reference is not kept as prepared: refused again, every time.
    await rejectsWith(strict.resolve('quay.io/acme/deps:1'), 'POLICY_DENIED', /--allow-registry/);
    assert.equal(attempts.length, 0, attempts.join());
    // An allowed public name does reach the connector (whose refusal then surfaces as UNAVAILABLE).
    await assert.rejects(strict.resolve('registry.example.com/acme/deps:1', { signal: AbortSignal.timeout(5000) }));
    assert.ok(attempts.length >= 1 && attempts.every((a) => a.startsWith('93.184.215.14:')));
  });

  it('answers a deadline that passes while the registry hangs from stale-if-error, from the caches alone', async () => {
    const registry = await startRegistry({ mode: 'plain' });
    closers.push(() => registry.stop());
    const proxy = await startFaultProxy(registry.host);
    closers.push(() => proxy.close());
    const pushed = await pushStandardArtifact(registry, 'acme/hang', '1.0');
    const reference = `${proxy.host}/acme/hang:1.0`;
    const { resolver, context } = await createResolver(
      settingsFor(registry, { insecureRegistries: [proxy.host], allowRegistries: [proxy.host], tagTtlMs: 0, staleGraceMs: 60_000 }),
    );
    closers.push(() => context.agent.close());
    assert.equal(resolver.staleArtifact(reference), undefined, 'nothing resolved yet');
    const fresh = await resolver.resolve(reference);
    assert.equal(fresh.stale, undefined);
    proxy.stall();
    proxy.cutOpen();
    const started = Date.now();
    const outcome = await resolveReferences(resolver, [`container:${reference}`], { signal: AbortSignal.timeout(300) });
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.ok(Date.now() - started < 5_000, 'answered at the deadline, not after the flight timeout');
    assert.equal(outcome.artifacts[0]!.digest, pushed.manifest.digest);
    assert.equal(outcome.artifacts[0]!.stale, true);
    assert.equal(outcome.artifacts[0]!.reference, reference);
    assert.ok(proxy.faultedCount() >= 1, 'the registry was asked, and hung');
    // A digest reference never goes stale; a tag of another repository has no digest to stand in.
    assert.equal(resolver.staleArtifact(`${proxy.host}/acme/hang@${pushed.manifest.digest}`), undefined);
    assert.equal(resolver.staleArtifact(`${proxy.host}/acme/other:1.0`), undefined);
    const none = await resolveReferences(resolver, [`${proxy.host}/acme/other:1.0`], { signal: AbortSignal.timeout(300) });
    assert.ok(!none.ok && none.aborted, 'nothing to stand in: the deadline stands');
  });

  it('has no stale digest once the grace ran out', async () => {
    const registry = await startRegistry({ mode: 'plain' });
    closers.push(() => registry.stop());
    const pushed = await pushStandardArtifact(registry, 'acme/graceless', '1.0');
    const resolver = await resolverFor(registry, { tagTtlMs: 0, staleGraceMs: 1 });
    await resolver.resolve(pushed.reference);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resolver.staleArtifact(pushed.reference), undefined);
  });

  it('uses the last digest when the registry fails within the grace period, and says so', async () => {
    const registry = await startRegistry({ mode: 'plain' });
    let stopped = false;
    try {
      const pushed = await pushStandardArtifact(registry, 'acme/stale', '1.0');
      const resolver = await resolverFor(registry, { tagTtlMs: 0 });
      const fresh = await resolver.resolve(pushed.reference);
      assert.equal(fresh.stale, undefined);
      await registry.stop();
      stopped = true;
      const stale = await resolver.resolve(pushed.reference, { signal: AbortSignal.timeout(10_000) });
      assert.equal(stale.digest, pushed.manifest.digest);
      assert.equal(stale.stale, true);
      const other = await resolverFor(registry, { tagTtlMs: 0 });
      await assert.rejects(other.resolve(pushed.reference, { signal: AbortSignal.timeout(10_000) }), (e: unknown) =>
        isCamelOciError(e, 'UNAVAILABLE'),
      );
    } finally {
      if (!stopped) await registry.stop();
    }
  });
});
