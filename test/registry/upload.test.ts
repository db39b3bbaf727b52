/** The push verbs against the real registry: chunked uploads, the 413 fallback, origins, digest checks, order. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import { isCamelOciError } from '../../src/base/errors.js';
import { packArtifact } from '../../src/push/pack.js';
import type { PackedArtifact } from '../../src/push/pack.js';
import { createRegistryContext } from '../../src/registry/setup.js';
import type { RegistryContext } from '../../src/registry/setup.js';
import { Uploader } from '../../src/registry/upload.js';
import { listenLoopback } from '../helpers/ports.js';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { makeJar } from '../helpers/zip.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface SeenRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  status: number;
}

/**
 * A loopback HTTP proxy in front of the plain registry: it records requests, can refuse bodies
 * over a size with 413, and can point the registry's upload Locations at another port.
 */
async function startProxy(
  targetPort: number,
  options: { refuseBodiesOver?: number; locationTo?: number; claimDigest?: string; failPuts?: number } = {},
): Promise<{ host: string; port: number; seen: SeenRequest[] }> {
  const seen: SeenRequest[] = [];
  let failed = 0;
  const server: Server = createServer((req, res) => {
    const record: SeenRequest = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, status: 0 };
    seen.push(record);
    if (req.method === 'PUT' && failed < (options.failPuts ?? 0)) {
      failed++;
      req.resume();
      record.status = 503;
      res.writeHead(503, { 'content-type': 'text/plain' }).end('try again');
      return;
    }
    if (options.refuseBodiesOver !== undefined && Number(req.headers['content-length'] ?? 0) > options.refuseBodiesOver) {
      req.resume();
      record.status = 413;
      res.writeHead(413, { 'content-type': 'text/plain' }).end('too large');
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      record.status = up.statusCode ?? 0;
      const headers = { ...up.headers };
      if (options.locationTo !== undefined && typeof headers.location === 'string') {
        const url = new URL(headers.location, `http://${req.headers.host}`);
        url.host = `127.0.0.1:${options.locationTo}`;
        headers.location = url.toString();
      }
      if (options.claimDigest !== undefined && up.statusCode === 201) headers['docker-content-digest'] = options.claimDigest;
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const port = await listenLoopback(server);
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { host: `127.0.0.1:${port}`, port, seen };
}

function uploadsOf(entries: ReturnType<StartedRegistry['accessLog']>, repository: string): typeof entries {
  return entries.filter((e) => e.kind === 'upload' && e.repository === repository);
}

/** An artifact of one jar of `bytes` random bytes (random: no two tests share a blob). */
function oneJar(bytes: number): PackedArtifact {
  return packArtifact(
    [
      {
        source: 'x',
        kind: 'jar',
        name: 'r',
        jars: [{ fileName: 'r.jar', data: makeJar(undefined, [{ name: 'R', data: randomBytes(bytes) }]) }],
      },
    ],
    [],
    { os: 'linux', architecture: 'amd64' },
  );
}

async function contextFor(hosts: string[]): Promise<RegistryContext> {
  const context = await createRegistryContext({ registryConfigs: [], insecureRegistries: hosts, allowRegistries: hosts, caFiles: [] });
  cleanups.push(() => context.agent.close());
  return context;
}

function callContext(): { signal: AbortSignal; deadline: number } {
  return { signal: AbortSignal.timeout(30_000), deadline: Date.now() + 30_000 };
}

describe('Uploader against a plain registry', () => {
  let registry: StartedRegistry;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    cleanups.push(() => registry.stop());
  });

  it('uploads in chunks (PATCH with Content-Range, then PUT)', async () => {
    const art = packArtifact(
      [
        {
          source: 'x',
          kind: 'jar',
          name: 'big',
          jars: [{ fileName: 'big.jar', data: makeJar(undefined, [{ name: 'R', data: randomBytes(5000) }]) }],
        },
      ],
      [],
      { os: 'linux', architecture: 'amd64' },
    );
    const context = await createRegistryContext({
      registryConfigs: [],
      insecureRegistries: [registry.host],
      allowRegistries: [registry.host],
      caFiles: [],
    });
    registry.resetAccessLog();
    try {
      const loc = { registry: registry.host, repository: 'acme/chunked', scheme: 'http' as const };
      const ctx = { signal: AbortSignal.timeout(30_000), deadline: Date.now() + 30_000 };
      const layer = art.layers[0]!;
      assert.ok(layer.bytes.length > 2000);
      const outcome = await new Uploader(context.client, { chunkBytes: 1000 }).pushBlob(loc, layer, ctx);
      assert.equal(outcome, 'uploaded-chunked');
      const patches = uploadsOf(await registry.settledAccessLog(), 'acme/chunked').filter((e) => e.method === 'PATCH');
      assert.equal(patches.length, Math.ceil(layer.bytes.length / 1000));
      assert.equal(await new Uploader(context.client).pushBlob(loc, layer, ctx), 'exists');
      const res = await context.client.blob(loc, layer.digest, ctx);
      const chunks: Buffer[] = [];
      for await (const c of res.body as AsyncIterable<Buffer>) chunks.push(c);
      assert.deepEqual(Buffer.concat(chunks), layer.bytes);
    } finally {
      await context.agent.close();
    }
  });

  it('falls back to chunks when a proxy refuses the monolithic upload with 413', async () => {
    const proxy = await startProxy(registry.port, { refuseBodiesOver: 1024 });
    const art = packArtifact(
      [
        {
          source: 'x',
          kind: 'jar',
          name: 'p',
          jars: [{ fileName: 'p.jar', data: makeJar(undefined, [{ name: 'R', data: randomBytes(4000) }]) }],
        },
      ],
      [],
      { os: 'linux', architecture: 'amd64' },
    );
    const context = await createRegistryContext({
      registryConfigs: [],
      insecureRegistries: [proxy.host],
      allowRegistries: [proxy.host],
      caFiles: [],
    });
    try {
      const loc = { registry: proxy.host, repository: 'acme/proxied', scheme: 'http' as const };
      const ctx = { signal: AbortSignal.timeout(30_000), deadline: Date.now() + 30_000 };
      const layer = art.layers[0]!;
      assert.ok(layer.bytes.length > 1024);
      assert.equal(await new Uploader(context.client, { fallbackChunkBytes: 1000 }).pushBlob(loc, layer, ctx), 'uploaded-chunked');
      assert.ok(
        proxy.seen.some((r) => r.method === 'PUT' && r.status === 413),
        'the monolithic PUT was refused first',
      );
      assert.equal(await new Uploader(context.client).exists(loc, { digest: layer.digest, size: layer.bytes.length }, ctx), true);
    } finally {
      await context.agent.close();
    }
  });

  it('refuses a plain-HTTP upload Location on a host not named by --insecure-registry, sending it nothing', async () => {
    const other = await startProxy(registry.port);
    const front = await startProxy(registry.port, { locationTo: other.port });
    const context = await createRegistryContext({
      registryConfigs: [],
      insecureRegistries: [front.host],
      allowRegistries: [front.host, other.host],
      caFiles: [],
    });
    cleanups.push(() => context.agent.close());
    const loc = { registry: front.host, repository: 'acme/downgrade', scheme: 'http' as const };
    const layer = oneJar(2000).layers[0]!;
    await assert.rejects(new Uploader(context.client).pushBlob(loc, layer, callContext()), (e: unknown) =>
      isCamelOciError(e, 'POLICY_DENIED'),
    );
    assert.equal(other.seen.length, 0);
  });

  it('does not send credentials to an upload location on another origin', async () => {
    const other = await startProxy(registry.port);
    const front = await startProxy(registry.port, { locationTo: other.port });
    const art = packArtifact(
      [
        {
          source: 'x',
          kind: 'jar',
          name: 'o',
          jars: [{ fileName: 'o.jar', data: makeJar(undefined, [{ name: 'R', data: randomBytes(3000) }]) }],
        },
      ],
      [],
      { os: 'linux', architecture: 'amd64' },
    );
    const hosts = [front.host, other.host];
    const context = await createRegistryContext({ registryConfigs: [], insecureRegistries: hosts, allowRegistries: hosts, caFiles: [] });
    try {
      const loc = { registry: front.host, repository: 'acme/elsewhere', scheme: 'http' as const };
      const ctx = {
        signal: AbortSignal.timeout(30_000),
        deadline: Date.now() + 30_000,
        credential: { kind: 'basic' as const, username: 'alice', password: 's3cret' },
      };
      const layer = art.layers[0]!;
      assert.equal(await new Uploader(context.client).pushBlob(loc, layer, ctx), 'uploaded');
      assert.ok(front.seen.length > 0 && front.seen.every((r) => r.authorization !== undefined), 'the registry itself gets the credential');
      assert.ok(
        other.seen.some((r) => r.method === 'PUT'),
        'the upload went to the other origin',
      );
      assert.deepEqual(
        other.seen.filter((r) => r.authorization !== undefined),
        [],
      );
    } finally {
      await context.agent.close();
    }
  });

  it('refuses a registry that says it stored another digest', async () => {
    const liar = await startProxy(registry.port, { claimDigest: `sha256:${'0'.repeat(64)}` });
    const context = await contextFor([liar.host]);
    const art = oneJar(1000);
    const loc = { registry: liar.host, repository: 'acme/liar', scheme: 'http' as const };
    await assert.rejects(new Uploader(context.client).pushBlob(loc, art.layers[0]!, callContext()), (e) =>
      isCamelOciError(e, 'DIGEST_MISMATCH'),
    );
    // The blobs go in honestly, so only the manifest's answer lies.
    const honest = await contextFor([registry.host]);
    const direct = { ...loc, registry: registry.host };
    for (const b of [...art.layers, art.config]) await new Uploader(honest.client).pushBlob(direct, b, callContext());
    await assert.rejects(new Uploader(context.client).putManifest(loc, '1.0', art.manifest, callContext()), (e) =>
      isCamelOciError(e, 'DIGEST_MISMATCH'),
    );
  });

  it('puts the manifest only after every blob, and refuses a manifest whose blobs are missing', async () => {
    // Order as a proxy sees requests arrive: the registry's access log may write lines out of order.
    const proxy = await startProxy(registry.port);
    const context = await contextFor([proxy.host]);
    const art = oneJar(1000);
    const loc = { registry: proxy.host, repository: 'acme/order', scheme: 'http' as const };
    await assert.rejects(
      new Uploader(context.client).putManifest(loc, '0.9', art.manifest, callContext()),
      (e) => isCamelOciError(e) && e.code !== 'INTERNAL',
    );
    proxy.seen.length = 0;
    const blobs = [...art.layers, art.config];
    const outcomes = await new Uploader(context.client).pushImage(loc, '1.0', blobs, art.manifest, callContext(), { parallel: 2 });
    assert.deepEqual([...outcomes.values()], ['uploaded', 'uploaded']);
    const manifestAt = proxy.seen.findIndex((r) => r.method === 'PUT' && r.url.includes('/manifests/'));
    const blobPuts = proxy.seen.map((r, i) => (r.method === 'PUT' && r.url.includes('/blobs/uploads/') ? i : -1)).filter((i) => i >= 0);
    assert.equal(blobPuts.length, 2);
    assert.ok(
      blobPuts.every((i) => i < manifestAt),
      'manifest after the blobs',
    );
  });

  it('starts a blob and the manifest over after a retryable failure', async () => {
    const flaky = await startProxy(registry.port, { failPuts: 2 });
    const context = await contextFor([flaky.host]);
    const art = oneJar(1000);
    const loc = { registry: flaky.host, repository: 'acme/flaky', scheme: 'http' as const };
    const outcomes = await new Uploader(context.client).pushImage(loc, '1.0', [...art.layers, art.config], art.manifest, callContext(), {
      parallel: 1,
    });
    assert.deepEqual([...outcomes.values()], ['uploaded', 'uploaded']);
    assert.equal(flaky.seen.filter((r) => r.status === 503).length, 2);
    assert.equal(flaky.seen.filter((r) => r.method === 'PUT' && r.status === 201).length, 3, 'two blobs and the manifest');
  });

  it('gives up on a registry that keeps failing', async () => {
    const broken = await startProxy(registry.port, { failPuts: 1000 });
    const context = await contextFor([broken.host]);
    const art = oneJar(1000);
    const loc = { registry: broken.host, repository: 'acme/broken', scheme: 'http' as const };
    await assert.rejects(
      new Uploader(context.client).pushImage(loc, '1.0', [...art.layers, art.config], art.manifest, callContext(), { parallel: 1 }),
      (e) => isCamelOciError(e, 'UNAVAILABLE') || isCamelOciError(e, 'REGISTRY_ERROR'),
    );
    assert.equal(broken.seen.filter((r) => r.method === 'PUT').length, 3, 'UPLOAD_ATTEMPTS tries of the first blob');
  });
});
