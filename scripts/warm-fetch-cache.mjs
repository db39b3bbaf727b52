/**
 * Fills the fetch bundle's code cache (src/base/code-cache.ts) the way only a real run can: runs
 * the built `camel-oci fetch` once, against a stand-in registry on loopback that serves one
 * generated artifact (a dependency layer and a kamelets layer, tar+gzip), with
 * NODE_COMPILE_CACHE as the environment gives it. The image build runs it (Dockerfile), so every
 * init container starts from a cache that holds what a fetch compiles; it is also a smoke test of
 * the built fetch: it fails when the fetch fails, lands other files, or leaves no cache.
 *
 *   NODE_COMPILE_CACHE=/opt/camel-oci/compile-cache node warm-fetch-cache.mjs [path/to/dist/cli.js]
 *
 * Only Node's built-ins: the image runs it from outside the project's node_modules.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const cli = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A ustar archive of regular files (name -> content). */
function tar(files) {
  const blocks = [];
  for (const [name, content] of Object.entries(files)) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148); // the checksum counts its own field as spaces
    header.write('0', 156);
    header.write('ustar\0' + '00', 257, 'latin1');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    blocks.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

const layers = [
  { kind: 'dependency', annotation: 'camel.apache.org.dependency', bytes: gzipSync(tar({ 'lib/warm.jar': Buffer.alloc(70_000, 7) })) },
  {
    kind: 'kamelets',
    annotation: 'camel.apache.org.kamelets.repository',
    bytes: gzipSync(tar({ 'kamelets/warm.kamelet.yaml': Buffer.from('kind: Kamelet\n') })),
  },
].map((l) => ({ ...l, digest: sha256(l.bytes) }));
const config = Buffer.from('{}');
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: l.digest,
      size: l.bytes.length,
      annotations: { [l.annotation]: 'warm-up' },
    })),
  }),
);
const manifestDigest = sha256(manifest);

const blobs = new Map(layers.map((l) => [l.digest, l.bytes]));
const server = createServer((req, res) => {
  const url = req.url ?? '';
  if (url === `/v2/warm/manifests/${manifestDigest}`) {
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': manifestDigest });
    res.end(manifest);
    return;
  }
  const blob = url.startsWith('/v2/warm/blobs/') ? blobs.get(url.slice('/v2/warm/blobs/'.length)) : undefined;
  if (blob !== undefined) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
    res.end(blob);
    return;
  }
  res.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const host = `127.0.0.1:${server.address().port}`;

const plan = {
  version: 1,
  artifacts: [
    {
      reference: `${host}/warm:1`,
      registry: host,
      repository: 'warm',
      scheme: 'http',
      digest: manifestDigest,
      layers: layers.map((l) => ({
        digest: l.digest,
        size: l.bytes.length,
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        kind: l.kind,
        format: 'tar+gzip',
        target: `${l.kind === 'dependency' ? 'dependencies' : 'kamelets'}/${l.digest.slice(7, 19)}`,
      })),
    },
  ],
};

const tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-warm-'));
try {
  const root = path.join(tmp, 'root');
  const args = [
    'fetch',
    '--root',
    root,
    '--pull-secrets-dir',
    path.join(tmp, 'none'),
    '--termination-log',
    path.join(tmp, 'termination-log'),
  ];
  args.push('--insecure-registry', host, '--allow-registry', host);
  const env = { ...process.env, CAMEL_OCI_PLAN: JSON.stringify(plan) };
  await promisify(execFile)(process.execPath, [cli, ...args], { env }).catch((err) => {
    throw new Error(`the warm-up fetch failed: ${err.stderr || err.message}`);
  });
  const landed = [
    ...(await readdir(path.join(root, 'dependencies'), { recursive: true })),
    ...(await readdir(path.join(root, 'kamelets'), { recursive: true })),
  ];
  if (!landed.some((f) => f.endsWith('warm.jar')) || !landed.some((f) => f.endsWith('warm.kamelet.yaml'))) {
    throw new Error(`the warm-up fetch landed ${JSON.stringify(landed)}`);
  }
} finally {
  server.close();
  await rm(tmp, { recursive: true, force: true });
}

const cacheDir = path.join(process.env.NODE_COMPILE_CACHE || path.join(os.tmpdir(), 'node-compile-cache'), 'camel-oci');
const caches = (await readdir(cacheDir).catch(() => [])).filter((f) => f.startsWith('fetch-'));
if (caches.length === 0) throw new Error(`the warm-up fetch left no code cache in ${cacheDir}`);
console.log(`warm-fetch-cache: ${caches.map((f) => path.join(cacheDir, f)).join(', ')}`);
