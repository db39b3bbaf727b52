/**
 * Self-test of the registry harness: every mode starts a real docker-registry, skopeo pushes an
 * artifact and a two-platform index, and plain undici requests see exactly the layout's bytes.
 * Also checks the token issuer, the fault proxy, the black hole and the tar builder.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Parser, type ReadEntry } from 'tar';
import { Agent, request } from 'undici';
import { ANNOTATION_DEPENDENCY, ANNOTATION_TITLE, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.js';
import { startBlackhole, startFaultProxy } from './fault-proxy.js';
import {
  EMPTY_CONFIG_DIGEST,
  makeTar,
  makeTarGz,
  OciLayoutBuilder,
  REF_NAME_ANNOTATION,
  sha256Digest,
  type BuiltImageManifest,
  type BuiltIndex,
} from './oci-layout.js';
import { blobPath, classifyPath, parseAccessLine, startRegistry, type RegistryMode, type StartedRegistry } from './registry.js';
import { pushLayout } from './skopeo.js';
import { parseScopes } from './token-issuer.js';

const JAR_BYTES = Buffer.from('PK\u0003\u0004 not really a jar, but bytes are bytes');

interface Layout {
  dir: string;
  artifact: BuiltImageManifest;
  other: BuiltImageManifest;
  index: BuiltIndex;
  tarGzLayer: Buffer;
}

function buildLayout(dir: string): Layout {
  const layout = new OciLayoutBuilder(dir);
  const tarGzLayer = makeTarGz([
    { path: 'lib/', type: 'dir' },
    { path: 'lib/foo-1.0.jar', content: JAR_BYTES },
  ]);
  const artifact = layout.manifest({
    artifactType: 'application/vnd.camel.oci.dependencies',
    layers: [
      { bytes: tarGzLayer, annotations: { [ANNOTATION_DEPENDENCY]: 'com.acme:foo:1.0' } },
      { bytes: JAR_BYTES, mediaType: 'application/java-archive', annotations: { [ANNOTATION_TITLE]: 'bar-2.0.jar' } },
    ],
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  });
  const other = layout.manifest({
    layers: [{ bytes: makeTarGz([{ path: 'arm.jar', content: 'arm' }]), annotations: { [ANNOTATION_DEPENDENCY]: 'com.acme:arm:1.0' } }],
  });
  const index = layout.index({
    manifests: [
      { manifest: artifact, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: other, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  });
  layout.tag('1.0', artifact);
  layout.tag('multi', index);
  return { dir, artifact, other, index, tarGzLayer };
}

function headers(registry: StartedRegistry, repository: string, accept: string): Record<string, string> {
  const auth = registry.authorization(repository);
  return { accept, ...(auth !== undefined ? { authorization: auth } : {}) };
}

async function getManifest(registry: StartedRegistry, repository: string, reference: string, accept: string) {
  const res = await request(`${registry.url}/v2/${repository}/manifests/${reference}`, {
    dispatcher: registry.dispatcher,
    headers: headers(registry, repository, accept),
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, digest: res.headers['docker-content-digest'], body };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Parses `Bearer k="v",k2="v2"` into a map (enough for the registry's own challenges). */
function challengeParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) if (m[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  return out;
}

let workDir = '';
let layout: Layout;

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-harness-test-'));
  layout = buildLayout(path.join(workDir, 'layout'));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const MODES: readonly RegistryMode[] = ['plain', 'tls', 'basic', 'token'];

describe('startRegistry + pushLayout, per mode', { concurrency: MODES.length }, () => {
  for (const mode of MODES) {
    test(`${mode}: serves the pushed layout byte for byte, logs the manifest GET, stops cleanly`, async () => {
      const registry = await startRegistry({ mode });
      try {
        assert.equal(registry.url, `${mode === 'plain' ? 'http' : 'https'}://${registry.host}`);
        assert.match(registry.host, /^127\.0\.0\.1:\d+$/);

        await pushLayout(layout.dir, '1.0', registry, 'acme/deps:1.0');
        await pushLayout(layout.dir, 'multi', registry, 'acme/multi:1.0', { all: true });
        registry.resetAccessLog();
        await registry.settledAccessLog();
        registry.resetAccessLog();

        const manifest = await getManifest(registry, 'acme/deps', '1.0', OCI_MANIFEST);
        assert.equal(manifest.status, 200);
        assert.equal(manifest.digest, layout.artifact.digest);
        assert.deepEqual(manifest.body, layout.artifact.bytes);

        const index = await getManifest(registry, 'acme/multi', '1.0', OCI_INDEX);
        assert.equal(index.status, 200);
        assert.equal(index.digest, layout.index.digest);
        assert.deepEqual(index.body, layout.index.bytes);
        const child = await getManifest(registry, 'acme/multi', layout.other.digest, OCI_MANIFEST);
        assert.equal(child.digest, layout.other.digest);

        // The layer's bytes sit where blobPath says (tampering tests rely on it).
        const layerDigest = layout.artifact.layers[0]?.digest ?? '';
        assert.deepEqual(await readFile(blobPath(registry.storageDir, layerDigest)), layout.tarGzLayer);

        const log = await registry.settledAccessLog();
        const manifestGets = log.filter((e) => e.kind === 'manifest' && e.method === 'GET');
        assert.deepEqual(
          manifestGets.map((e) => [e.repository, e.reference, e.status]),
          [
            ['acme/deps', '1.0', 200],
            ['acme/multi', '1.0', 200],
            ['acme/multi', layout.other.digest, 200],
          ],
        );
        assert.ok(
          log.every((e) => !e.uri.includes('camel-oci-harness-sync')),
          'sync markers are not reported',
        );

        if (mode === 'tls' || mode === 'basic' || mode === 'token') {
          assert.ok(registry.caPem?.includes('BEGIN CERTIFICATE'));
          assert.ok(registry.caFile !== undefined && existsSync(registry.caFile));
          // Without the test CA the certificate is refused: TLS is real, not skipped.
          const untrusting = new Agent();
          try {
            await assert.rejects(request(`${registry.url}/v2/`, { dispatcher: untrusting }));
          } finally {
            await untrusting.close();
          }
        }
        if (mode === 'basic') await checkBasic(registry);
        if (mode === 'token') await checkToken(registry);
      } finally {
        const { pid, tempDir } = registry;
        await registry.stop();
        await registry.stop(); // idempotent
        assert.equal(alive(pid), false, 'registry process is gone');
        assert.equal(existsSync(tempDir), false, 'temp dir is removed');
      }
    });
  }
});

async function checkBasic(registry: StartedRegistry): Promise<void> {
  const anonymous = await request(`${registry.url}/v2/`, { dispatcher: registry.dispatcher });
  await anonymous.body.dump();
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="camel-oci-harness"');

  const wrong = await request(`${registry.url}/v2/`, {
    dispatcher: registry.dispatcher,
    headers: { authorization: 'Basic ' + Buffer.from('alice:wrong').toString('base64') },
  });
  await wrong.body.dump();
  assert.equal(wrong.statusCode, 401);

  const config = JSON.parse(registry.dockerConfig()) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(config.auths[registry.host]?.auth ?? '', 'base64').toString(), 'alice:s3cret');
  const written = await registry.writeDockerConfig(path.join(registry.tempDir, 'docker'));
  assert.equal(await readFile(written, 'utf8'), registry.dockerConfig());
}

async function checkToken(registry: StartedRegistry): Promise<void> {
  const issuer = registry.tokenIssuer;
  assert.ok(issuer !== undefined);
  assert.ok(issuer.requestCount() > 0, 'skopeo got its tokens from the harness issuer');

  const challenged = await request(`${registry.url}/v2/acme/deps/manifests/1.0`, {
    dispatcher: registry.dispatcher,
    headers: { accept: OCI_MANIFEST },
  });
  await challenged.body.dump();
  assert.equal(challenged.statusCode, 401);
  const challenge = String(challenged.headers['www-authenticate']);
  assert.match(challenge, /^Bearer /);
  assert.deepEqual(challengeParams(challenge), { realm: issuer.url, service: issuer.service, scope: 'repository:acme/deps:pull' });

  // Anonymous pull through the issuer, as a client would do it.
  const before = issuer.requestCount();
  const tokenRes = await request(`${issuer.url}?service=${issuer.service}&scope=repository:acme/deps:pull,push`, {
    dispatcher: registry.dispatcher,
  });
  const answer = (await tokenRes.body.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
  assert.equal(tokenRes.statusCode, 200);
  assert.equal(answer.token, answer.access_token);
  assert.equal(answer.expires_in, 300);
  assert.equal(issuer.requestCount(), before + 1);
  assert.deepEqual(issuer.requests().at(-1)?.granted, [{ type: 'repository', name: 'acme/deps', actions: ['pull'] }]);

  const pulled = await request(`${registry.url}/v2/acme/deps/manifests/1.0`, {
    dispatcher: registry.dispatcher,
    headers: { accept: OCI_MANIFEST, authorization: `Bearer ${answer.token}` },
  });
  await pulled.body.dump();
  assert.equal(pulled.statusCode, 200);
  assert.equal(pulled.headers['docker-content-digest'], layout.artifact.digest);

  // The anonymous token does not allow a push.
  const push = await request(`${registry.url}/v2/acme/deps/blobs/uploads/`, {
    method: 'POST',
    dispatcher: registry.dispatcher,
    headers: { authorization: `Bearer ${answer.token}` },
  });
  await push.body.dump();
  assert.equal(push.statusCode, 401);
  assert.match(String(push.headers['www-authenticate']), /error="insufficient_scope"/);

  // Bad credentials are refused by the issuer; failNext makes it fail on purpose.
  const bad = await request(`${issuer.url}?service=${issuer.service}&scope=repository:acme/deps:pull`, {
    dispatcher: registry.dispatcher,
    headers: { authorization: 'Basic ' + Buffer.from('alice:wrong').toString('base64') },
  });
  await bad.body.dump();
  assert.equal(bad.statusCode, 401);
  issuer.failNext(1, 503);
  const failed = await request(issuer.url, { dispatcher: registry.dispatcher });
  await failed.body.dump();
  assert.equal(failed.statusCode, 503);
  const recovered = await request(issuer.url, { dispatcher: registry.dispatcher });
  await recovered.body.dump();
  assert.equal(recovered.statusCode, 200);

  // A token that expired more than the registry's 60 s leeway ago is refused.
  const expired = issuer.mint([{ type: 'repository', name: 'acme/deps', actions: ['pull'] }], { exp: Math.floor(Date.now() / 1000) - 120 });
  const refused = await request(`${registry.url}/v2/acme/deps/manifests/1.0`, {
    dispatcher: registry.dispatcher,
    headers: { accept: OCI_MANIFEST, authorization: `Bearer ${expired}` },
  });
  await refused.body.dump();
  assert.equal(refused.statusCode, 401);
  assert.match(String(refused.headers['www-authenticate']), /error="invalid_token"/);
}

describe('token issuer', () => {
  const scopeCases: ReadonlyArray<{ name: string; values: string[]; expected: ReturnType<typeof parseScopes> }> = [
    {
      name: 'one scope',
      values: ['repository:acme/deps:pull'],
      expected: [{ type: 'repository', name: 'acme/deps', actions: ['pull'] }],
    },
    {
      name: 'space-separated scopes in one parameter',
      values: ['repository:acme/deps:pull,push repository:acme/other:pull'],
      expected: [
        { type: 'repository', name: 'acme/deps', actions: ['pull', 'push'] },
        { type: 'repository', name: 'acme/other', actions: ['pull'] },
      ],
    },
    {
      name: 'repeated parameters and the catalog',
      values: ['repository:a:pull', 'registry:catalog:*'],
      expected: [
        { type: 'repository', name: 'a', actions: ['pull'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ],
    },
    { name: 'malformed items are skipped', values: ['nonsense', 'repository:only-one-colon'], expected: [] },
  ];
  for (const c of scopeCases) {
    test(`parseScopes: ${c.name}`, () => assert.deepEqual(parseScopes(c.values), c.expected));
  }

  test('grants the allowed subset: pull anonymously, pull+push to users, nothing when anonymous pull is off', async () => {
    const registry = await startRegistry({ mode: 'token', anonymousPull: false, users: { bob: 'pw' } });
    try {
      const issuer = registry.tokenIssuer;
      assert.ok(issuer !== undefined);
      const ask = async (auth?: string) => {
        const res = await request(`${issuer.url}?scope=repository:r:pull,push,delete&scope=repository:s:pull`, {
          dispatcher: registry.dispatcher,
          headers: auth !== undefined ? { authorization: auth } : {},
        });
        await res.body.dump();
        return issuer.requests().at(-1)?.granted;
      };
      assert.deepEqual(await ask(), []);
      issuer.setAnonymousPull(true);
      assert.deepEqual(await ask(), [
        { type: 'repository', name: 'r', actions: ['pull'] },
        { type: 'repository', name: 's', actions: ['pull'] },
      ]);
      assert.deepEqual(await ask('Basic ' + Buffer.from('bob:pw').toString('base64')), [
        { type: 'repository', name: 'r', actions: ['pull', 'push'] },
        { type: 'repository', name: 's', actions: ['pull'] },
      ]);
      assert.equal(issuer.requests().at(-1)?.user, 'bob');
    } finally {
      await registry.stop();
    }
  });
});

describe('access log parsing', () => {
  const lines: ReadonlyArray<{ line: string; expected: Record<string, unknown> | undefined }> = [
    {
      line: '127.0.0.1 - - [28/Nov/2026:00:03:44 +0000] "HEAD /v2/acme/deps/manifests/1.0 HTTP/1.1" 404 93 "" "curl/7.88.1"',
      expected: {
        method: 'HEAD',
        kind: 'manifest',
        repository: 'acme/deps',
        reference: '1.0',
        status: 404,
        bytes: 93,
        userAgent: 'curl/7.88.1',
      },
    },
    {
      line: '127.0.0.1 - - [28/Nov/2026:00:03:44 +0000] "PATCH /v2/a/b/c/blobs/uploads/5b9d?_state=x HTTP/2.0" 202 0 "" "skopeo"',
      expected: { method: 'PATCH', kind: 'upload', repository: 'a/b/c', path: '/v2/a/b/c/blobs/uploads/5b9d', protocol: 'HTTP/2.0' },
    },
    { line: 'time="2026-11-28T00:03:44Z" level=info msg="listening on 127.0.0.1:5155"', expected: undefined },
  ];
  for (const { line, expected } of lines) {
    test(`parses ${line.slice(0, 60)}`, () => {
      const entry = parseAccessLine(line);
      if (expected === undefined) assert.equal(entry, undefined);
      else
        assert.deepEqual(
          Object.fromEntries(Object.keys(expected).map((k) => [k, (entry as unknown as Record<string, unknown>)?.[k]])),
          expected,
        );
    });
  }
  test('classifies blobs, tags and the base path', () => {
    assert.deepEqual(classifyPath('/v2/x/blobs/sha256:ab'), { kind: 'blob', repository: 'x', reference: 'sha256:ab' });
    assert.deepEqual(classifyPath('/v2/x/y/tags/list'), { kind: 'tags', repository: 'x/y' });
    assert.deepEqual(classifyPath('/v2/'), { kind: 'base' });
  });
});

describe('startRegistry edge cases', () => {
  test('a second registry over the same storageDir serves what the first stored; storageDir survives stop()', async () => {
    const storageDir = path.join(workDir, 'shared-storage');
    const first = await startRegistry({ mode: 'plain', storageDir });
    await pushLayout(layout.dir, '1.0', first, 'acme/deps:1.0');
    await first.stop();
    assert.ok(existsSync(blobPath(storageDir, layout.artifact.digest)));
    const second = await startRegistry({ mode: 'plain', storageDir });
    try {
      const m = await getManifest(second, 'acme/deps', '1.0', OCI_MANIFEST);
      assert.equal(m.digest, layout.artifact.digest);
    } finally {
      await second.stop();
    }
  });

  test('a taken port is retried on fresh ports, then reported', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as net.AddressInfo).port;
    try {
      // extraConfig pins every attempt to the taken port, so all of them lose the race.
      await assert.rejects(
        startRegistry({ mode: 'plain', extraConfig: { http: { addr: `127.0.0.1:${taken}` } } }),
        /could not bind a port in 5 attempts/,
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  test('a broken config fails fast with the registry stderr in the message', async () => {
    await assert.rejects(
      startRegistry({ mode: 'plain', extraConfig: { auth: { token: { realm: 'https://127.0.0.1:1/token' } } } }),
      /exited .*before answering[\s\S]*token auth requires a valid option string/,
    );
  });
});

describe('fault proxy and black hole', () => {
  /** A server that answers every connection with `payload` and closes. */
  async function startFixedServer(payload: Buffer): Promise<{ server: net.Server; port: number }> {
    const server = net.createServer((socket) => {
      socket.once('data', () => socket.end(payload));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as net.AddressInfo).port };
  }

  /** Sends a byte through `port`, collects the answer until the socket ends, errors or times out. */
  function roundTrip(port: number, timeoutMs = 2_000): Promise<{ bytes: number; error?: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      let bytes = 0;
      const socket = net.connect(port, '127.0.0.1', () => socket.write('x'));
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ bytes, timedOut: true });
      }, timeoutMs);
      socket.on('data', (d: Buffer) => (bytes += d.length));
      socket.on('end', () => {
        clearTimeout(timer);
        resolve({ bytes, timedOut: false });
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve({ bytes, error: err.code ?? err.message, timedOut: false });
      });
    });
  }

  test('passes through, truncates, resets and stalls the next N connections, then passes again', async () => {
    const payload = Buffer.alloc(10_000, 7);
    const { server, port } = await startFixedServer(payload);
    const proxy = await startFaultProxy(`127.0.0.1:${port}`);
    try {
      assert.deepEqual(await roundTrip(proxy.port), { bytes: 10_000, timedOut: false });

      proxy.truncateAfterBytes(100, 1);
      assert.deepEqual(await roundTrip(proxy.port), { bytes: 100, timedOut: false });
      assert.equal((await roundTrip(proxy.port)).bytes, 10_000, 'only the next connection was truncated');

      proxy.resetAfterBytes(0, 1);
      const reset = await roundTrip(proxy.port);
      assert.equal(reset.error, 'ECONNRESET');

      proxy.stall(1);
      const stalled = await roundTrip(proxy.port, 200);
      assert.deepEqual(stalled, { bytes: 0, timedOut: true });

      assert.equal(proxy.connectionCount(), 5);
      assert.equal(proxy.faultedCount(), 3);
    } finally {
      await proxy.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('refuses a non-loopback target', async () => {
    await assert.rejects(startFaultProxy('10.0.0.1:443'), /loopback/);
  });

  test('the black hole accepts and never answers', async () => {
    const hole = await startBlackhole();
    try {
      assert.deepEqual(await roundTrip(hole.port, 150), { bytes: 0, timedOut: true });
      assert.equal(hole.connectionCount(), 1);
    } finally {
      await hole.close();
    }
  });
});

describe('OCI layout and tar builders', () => {
  test('writes oci-layout, index.json refs and blobs named by their digest', async () => {
    const layoutFile = JSON.parse(await readFile(path.join(layout.dir, 'oci-layout'), 'utf8')) as unknown;
    assert.deepEqual(layoutFile, { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(path.join(layout.dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    assert.deepEqual(
      index.manifests.map((d) => [d.annotations[REF_NAME_ANNOTATION], d.digest]),
      [
        ['1.0', layout.artifact.digest],
        ['multi', layout.index.digest],
      ],
    );
    assert.equal(layout.artifact.config.digest, EMPTY_CONFIG_DIGEST);
    assert.equal(sha256Digest('{}'), EMPTY_CONFIG_DIGEST);
    for (const digest of [layout.artifact.digest, layout.index.digest, ...layout.artifact.layers.map((l) => l.digest)]) {
      const bytes = await readFile(path.join(layout.dir, 'blobs', 'sha256', digest.slice(7)));
      assert.equal(sha256Digest(bytes), digest);
    }
  });

  test('makeTar output reads back with the tar package, long names and links included', async () => {
    const longName = `${'d'.repeat(120)}/${'f'.repeat(120)}.jar`;
    const archive = makeTar([
      { path: 'a.jar', content: 'A' },
      { path: 'dir', type: 'dir' },
      { path: longName, content: 'long' },
      { path: 'escape', type: 'symlink', linkname: '../../etc/passwd' },
      { path: '../outside.jar', content: 'hostile' },
    ]);
    assert.equal(archive.length % 512, 0);
    const seen: Array<[string, string, string]> = [];
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        seen.push([entry.path, entry.type, entry.linkpath ?? '']);
        entry.resume();
      },
    });
    await new Promise<void>((resolve, reject) => {
      parser.on('end', resolve);
      parser.on('error', reject);
      parser.end(archive);
    });
    assert.deepEqual(seen, [
      ['a.jar', 'File', ''],
      ['dir/', 'Directory', ''],
      [longName, 'File', ''],
      ['escape', 'SymbolicLink', '../../etc/passwd'],
      ['../outside.jar', 'File', ''],
    ]);
  });

  test('a manifest may use custom serialization; its digest covers the exact bytes', async () => {
    const dir = path.join(workDir, 'pretty');
    const builder = new OciLayoutBuilder(dir);
    const m = builder.manifest({
      layers: [{ bytes: 'x', mediaType: 'application/octet-stream' }],
      serialize: (o) => JSON.stringify(o, null, 2),
    });
    assert.match(m.bytes.toString(), /\n {2}"schemaVersion": 2/);
    assert.equal(m.digest, sha256Digest(m.bytes));
    await writeFile(path.join(dir, 'touch'), ''); // unknown files in a layout are allowed
  });
});
