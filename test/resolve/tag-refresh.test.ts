/**
 * Tag refresh by HEAD, counted in the real registry's access log: once a tag's TTL is over, the
 * resolver asks where the tag points with a manifest HEAD (which Docker Hub does not count against
 * its pull limit) and GETs a manifest only when the tag moved, by digest. Stale-if-error still
 * stands in when the registry is down, and a registry whose HEAD carries no digest is asked by GET.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Resolver } from '../../src/resolve/resolver.js';
import type { ResolverSettings } from '../../src/resolve/setup.js';
import { pushStandardArtifact, pushTwoPlatformIndex } from '../helpers/artifacts.js';
import { closeServer, listenLoopback, LOOPBACK } from '../helpers/ports.js';
import { startRegistry, type AccessEntry, type StartedRegistry } from '../helpers/registry.js';
import { createResolverFor } from '../helpers/resolver.js';

/** Tag TTL of these resolvers: short, so expiry is a short sleep (the clock is real). */
const TTL_MS = 60;
const closers: Array<() => Promise<void>> = [];

async function resolverFor(registry: StartedRegistry, extra: Partial<ResolverSettings> = {}): Promise<Resolver> {
  const { resolver, context } = await createResolverFor(registry, { tagTtlMs: TTL_MS, ...extra });
  closers.push(() => context.agent.close());
  return resolver;
}

const pastTtl = (): Promise<void> => new Promise((r) => setTimeout(r, TTL_MS * 2));

/** Manifest requests in the log, as `METHOD reference` (`HEAD 1.0`, `GET sha256:…`). */
function manifestRequests(log: readonly AccessEntry[], repository: string): string[] {
  return log.filter((e) => e.kind === 'manifest' && e.repository === repository).map((e) => `${e.method} ${e.reference ?? ''}`);
}

/** Runs `work` and returns the manifest requests the registry logged for `repository` meanwhile. */
async function requestsDuring(registry: StartedRegistry, repository: string, work: () => Promise<void>): Promise<string[]> {
  await registry.settledAccessLog();
  registry.resetAccessLog();
  await work();
  return manifestRequests(await registry.settledAccessLog(), repository);
}

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

describe('tag refresh by HEAD against a real registry', () => {
  let registry: StartedRegistry;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    closers.push(() => registry.stop());
  });

  it('checks an unchanged tag with one HEAD per expiry and GETs nothing', async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/steady', '1.0');
    const resolver = await resolverFor(registry);
    const first = await requestsDuring(registry, 'acme/steady', async () => {
      assert.equal((await resolver.resolve(pushed.reference)).digest, pushed.manifest.digest);
    });
    assert.deepEqual(first, ['GET 1.0'], 'a first resolution is one GET by tag, no HEAD before it');
    for (let round = 0; round < 2; round++) {
      await pastTtl();
      const log = await requestsDuring(registry, 'acme/steady', async () => {
        // A burst after expiry shares one check.
        const all = await Promise.all(Array.from({ length: 10 }, () => resolver.resolve(pushed.reference)));
        assert.ok(all.every((a) => a.digest === pushed.manifest.digest && a.stale === undefined));
      });
      assert.deepEqual(log, ['HEAD 1.0'], `round ${round}`);
    }
    // The HEAD renewed the TTL: within it, no request at all.
    const within = await requestsDuring(registry, 'acme/steady', async () => {
      await resolver.resolve(pushed.reference);
    });
    assert.deepEqual(within, []);
  });

  it('GETs the new manifest by digest, once, when the tag moved', async () => {
    const first = await pushStandardArtifact(registry, 'acme/moving', '1.0');
    const resolver = await resolverFor(registry);
    await resolver.resolve(first.reference);
    const second = await pushStandardArtifact(registry, 'acme/moving', '1.0');
    assert.notEqual(second.manifest.digest, first.manifest.digest);
    await pastTtl();
    const log = await requestsDuring(registry, 'acme/moving', async () => {
      const all = await Promise.all(Array.from({ length: 5 }, () => resolver.resolve(first.reference)));
      assert.ok(all.every((a) => a.digest === second.manifest.digest));
    });
    assert.deepEqual(log, ['HEAD 1.0', `GET ${second.manifest.digest}`]);
  });

  it('checks an index tag with a HEAD alone, the platform manifest coming from the cache', async () => {
    const { amd64 } = await pushTwoPlatformIndex(registry, 'acme/multi-refresh', '1.0');
    const resolver = await resolverFor(registry);
    const ref = `${registry.host}/acme/multi-refresh:1.0`;
    assert.equal((await resolver.resolve(ref)).digest, amd64.digest);
    await pastTtl();
    const log = await requestsDuring(registry, 'acme/multi-refresh', async () => {
      assert.equal((await resolver.resolve(ref)).digest, amd64.digest);
    });
    assert.deepEqual(log, ['HEAD 1.0']);
  });

  it('refreshTags asks with a HEAD too, and sees where the tag moved', async () => {
    const first = await pushStandardArtifact(registry, 'acme/refresh-head', '1.0');
    const resolver = await resolverFor(registry, { tagTtlMs: 60_000 });
    await resolver.resolve(first.reference);
    const second = await pushStandardArtifact(registry, 'acme/refresh-head', '1.0');
    const log = await requestsDuring(registry, 'acme/refresh-head', async () => {
      assert.equal((await resolver.resolve(first.reference)).digest, first.manifest.digest, 'fresh: cached');
      assert.equal((await resolver.resolve(first.reference, { refreshTags: true })).digest, second.manifest.digest);
    });
    assert.deepEqual(log, ['HEAD 1.0', `GET ${second.manifest.digest}`]);
  });
});

describe('tag refresh by HEAD when the registry fails', () => {
  it('keeps stale-if-error: a HEAD that gets no answer lets the last digest stand in', async () => {
    const registry = await startRegistry({ mode: 'plain' });
    let stopped = false;
    try {
      const pushed = await pushStandardArtifact(registry, 'acme/stale-head', '1.0');
      const resolver = await resolverFor(registry, { staleGraceMs: 60_000 });
      assert.equal((await resolver.resolve(pushed.reference)).stale, undefined);
      await registry.stop();
      stopped = true;
      await pastTtl();
      const stale = await resolver.resolve(pushed.reference, { signal: AbortSignal.timeout(10_000) });
      assert.equal(stale.digest, pushed.manifest.digest);
      assert.equal(stale.stale, true);
    } finally {
      if (!stopped) await registry.stop();
    }
  });

  it('GETs the tag when the registry answers HEAD without a digest', async () => {
    const registry = await startRegistry({ mode: 'plain' });
    closers.push(() => registry.stop());
    // A plain-HTTP proxy on loopback that drops Docker-Content-Digest from HEAD answers, as some registries do.
    const upstream = new URL(registry.url);
    const proxy = http.createServer((req, res) => {
      const out = http.request(
        { host: LOOPBACK, port: Number(upstream.port), path: req.url, method: req.method, headers: req.headers },
        (up) => {
          const headers = { ...up.headers };
          if (req.method === 'HEAD') delete headers['docker-content-digest'];
          res.writeHead(up.statusCode ?? 502, headers);
          up.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    const port = await listenLoopback(proxy);
    closers.push(() => closeServer(proxy));
    proxy.on('connection', (s) => closers.push(async () => void s.destroy()));
    const host = `${LOOPBACK}:${port}`;
    const pushed = await pushStandardArtifact(registry, 'acme/no-head-digest', '1.0');
    const resolver = await resolverFor(registry, { insecureRegistries: [host], allowRegistries: [host] });
    const ref = `${host}/acme/no-head-digest:1.0`;
    assert.equal((await resolver.resolve(ref)).digest, pushed.manifest.digest);
    await pastTtl();
    const log = await requestsDuring(registry, 'acme/no-head-digest', async () => {
      assert.equal((await resolver.resolve(ref)).digest, pushed.manifest.digest);
    });
    assert.deepEqual(log, ['HEAD 1.0', 'GET 1.0']);
  });
});
