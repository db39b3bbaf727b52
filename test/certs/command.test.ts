import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import tls from 'node:tls';
import { parse } from 'yaml';
import { writeCertBundle } from '../../src/certs/bundle.js';
import { certsCommand } from '../../src/certs/command.js';
import { splitPemCertificates } from '../../src/certs/trust.js';
import { generateCa, issueServingCert } from '../../src/certs/x509.js';
import { isCamelOciError } from '../../src/base/errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The name the apiserver dials for the default Service. */
const SERVICE_NAME = 'camel-oci.camel-oci.svc';

async function tempDir(t: test.TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-cmd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function capture(): { lines: string[]; log(line: string): void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

test('defaults to Service camel-oci in namespace camel-oci and writes every file, saying so', async (t) => {
  const out = await tempDir(t);
  const io = capture();
  const result = await certsCommand({ out }, io);
  assert.equal(result.status, 'written');
  const files = await readdir(out);
  assert.deepEqual(
    files.sort(),
    ['cabundle-patch.yaml', 'caBundle', 'ca.crt', 'kustomization.yaml', 'secret.yaml', 'tls.crt', 'tls.key'].sort(),
  );
  for (const f of files)
    assert.ok(
      io.lines.some((l) => l.startsWith('wrote ') && l.endsWith(f)),
      `prints that it wrote ${f}`,
    );
  const cert = new X509Certificate(await readFile(path.join(out, 'tls.crt')));
  assert.equal(
    cert.subjectAltName,
    'DNS:camel-oci, DNS:camel-oci.camel-oci, DNS:camel-oci.camel-oci.svc, DNS:camel-oci.camel-oci.svc.cluster.local',
  );
  assert.equal(result.caBundle, await readFile(path.join(out, 'caBundle'), 'utf8'));
  const secret = parse(await readFile(path.join(out, 'secret.yaml'), 'utf8')) as { metadata: { name: string; namespace: string } };
  assert.deepEqual(secret.metadata, { name: 'camel-oci-tls', namespace: 'camel-oci' });
  const validity = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
  assert.ok(validity > 364 && validity <= 365, `default validity is a year, got ${validity} days`);
});

test('keeps a valid bundle on a second run and replaces it with --force', async (t) => {
  const out = await tempDir(t);
  const first = await certsCommand({ out, service: 'hook', namespace: 'team', validityDays: 30 }, capture());
  const io = capture();
  const second = await certsCommand({ out, service: 'hook', namespace: 'team', validityDays: 30 }, io);
  assert.equal(second.status, 'kept');
  assert.equal(second.caBundle, first.caBundle);
  assert.match(io.lines.join('\n'), /kept .*--force/);
  const forced = await certsCommand({ out, service: 'hook', namespace: 'team', validityDays: 30, force: true }, capture());
  assert.equal(forced.status, 'written');
  assert.notEqual(forced.caBundle, first.caBundle);
});

test('a kept bundle whose caBundle patch covers fewer webhook entries (an earlier version) gets the patch rewritten, same CA', async (t) => {
  const out = await tempDir(t);
  const first = await certsCommand({ out }, capture());
  const patchFile = path.join(out, 'cabundle-patch.yaml');
  const current = await readFile(patchFile, 'utf8');
  // What an earlier version wrote: the first entry only.
  await writeFile(patchFile, `- op: add\n  path: /webhooks/0/clientConfig/caBundle\n  value: ${first.caBundle}\n`);
  const io = capture();
  const second = await certsCommand({ out }, io);
  assert.equal(second.status, 'kept');
  assert.equal(await readFile(patchFile, 'utf8'), current);
  const ops = parse(current) as Array<{ path: string; value: string }>;
  assert.deepEqual(
    ops.map((o) => o.path),
    ['/webhooks/0/clientConfig/caBundle', '/webhooks/1/clientConfig/caBundle'],
  );
  for (const o of ops) assert.equal(o.value, first.caBundle);
  assert.match(io.lines.join('\n'), /updated .*cabundle-patch\.yaml.*every webhook entry/);
  // Up to date: nothing rewritten, nothing said.
  const io3 = capture();
  await certsCommand({ out }, io3);
  assert.ok(!io3.lines.some((l) => l.startsWith('updated')));
});

test('replaces a bundle made for another Service without --force', async (t) => {
  const out = await tempDir(t);
  await certsCommand({ out, service: 'old', validityDays: 30 }, capture());
  const io = capture();
  const result = await certsCommand({ out, service: 'new', validityDays: 30 }, io);
  assert.equal(result.status, 'written');
  assert.match(io.lines[0] ?? '', /^replacing .*not valid for new/);
  const cert = new X509Certificate(await readFile(path.join(out, 'tls.crt')));
  assert.ok(cert.checkHost('new.camel-oci.svc', { subject: 'never' }));
});

test('uses the given secret and webhook names in the kustomize files', async (t) => {
  const out = await tempDir(t);
  await certsCommand({ out, namespace: 'ops', secretName: 's', webhookName: 'w', validityDays: 1 }, capture());
  const k = parse(await readFile(path.join(out, 'kustomization.yaml'), 'utf8')) as { patches: Array<{ target: { name: string } }> };
  assert.equal(k.patches[0]?.target.name, 'w');
  const secret = parse(await readFile(path.join(out, 'secret.yaml'), 'utf8')) as { metadata: { name: string; namespace: string } };
  assert.deepEqual(secret.metadata, { name: 's', namespace: 'ops' });
});

test('refuses invalid options before generating anything', async (t) => {
  const out = await tempDir(t);
  for (const options of [{ service: 'Bad_Name' }, { validityDays: -1 }, { namespace: '' }]) {
    await assert.rejects(certsCommand({ out, ...options }, capture()), (err) => isCamelOciError(err, 'CONFIG_INVALID'));
  }
  assert.deepEqual(await readdir(out), []);
});

/** The serving pair and CA a run left in `out`. */
async function servingPair(out: string): Promise<{ certPem: string; keyPem: string; caPem: string }> {
  const read = (f: string): Promise<string> => readFile(path.join(out, f), 'utf8');
  return { certPem: await read('tls.crt'), keyPem: await read('tls.key'), caPem: await read('ca.crt') };
}

/** The certificates of a caBundle value, decoded. */
const caBundleCerts = (caBundle: string): string[] => splitPemCertificates(Buffer.from(caBundle, 'base64').toString('utf8'));

/** Serves `pair` on 127.0.0.1 and connects as the apiserver would: trusting only `caPem`, checking SERVICE_NAME. */
async function apiserverAccepts(pair: { certPem: string; keyPem: string }, caPem: string): Promise<true | string> {
  const server = tls.createServer({ cert: pair.certPem, key: pair.keyPem }, (socket) => socket.end());
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: SERVICE_NAME, ca: caPem }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        socket.destroy();
        resolve(err.code ?? err.message);
      });
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a rotation keeps the old CA in ca.crt, caBundle, the patch and the Secret after the new one, and says so', async (t) => {
  const out = await tempDir(t);
  const first = await certsCommand({ out, validityDays: 30 }, capture());
  const old = await servingPair(out);
  const io = capture();
  const rotated = await certsCommand({ out, validityDays: 30, force: true }, io);
  const certs = caBundleCerts(rotated.caBundle);
  assert.equal(certs.length, 2, 'new CA and old CA');
  const [newCa, oldCa] = certs.map((pem) => new X509Certificate(pem));
  const now = await servingPair(out);
  assert.ok(new X509Certificate(now.certPem).verify(newCa!.publicKey), 'the new CA, first, signs the new serving certificate');
  assert.deepEqual(caBundleCerts(first.caBundle), [oldCa!.toString()], 'the second is the previous CA');
  assert.equal(rotated.previousCa?.fingerprint256, oldCa!.fingerprint256);
  assert.equal(Buffer.from(rotated.caBundle, 'base64').toString('utf8'), now.caPem);
  assert.equal(await readFile(path.join(out, 'caBundle'), 'utf8'), rotated.caBundle);
  const patch = parse(await readFile(path.join(out, 'cabundle-patch.yaml'), 'utf8')) as Array<{ value: string }>;
  assert.equal(patch[0]?.value, rotated.caBundle);
  const secret = parse(await readFile(path.join(out, 'secret.yaml'), 'utf8')) as { data: Record<string, string> };
  assert.equal(secret.data['ca.crt'], rotated.caBundle);
  const log = io.lines.join('\n');
  assert.match(log, /old CA CN=camel-oci webhook CA .* stays trusted in caBundle/);
  assert.match(log, /`camel-oci certs --force` .*again after the pods serve the new certificate to drop it/);
  assert.notEqual(old.certPem, now.certPem);
  // A run without --force reuses the rotated bundle as it is.
  const kept = await certsCommand({ out, validityDays: 30 }, capture());
  assert.equal(kept.status, 'kept');
  assert.equal(kept.caBundle, rotated.caBundle);
});

test('a TLS client trusting the rotated caBundle accepts both the old and the new serving certificate', async (t) => {
  const out = await tempDir(t);
  await certsCommand({ out, validityDays: 30 }, capture());
  const old = await servingPair(out);
  const rotated = await certsCommand({ out, validityDays: 30, force: true }, capture());
  const now = await servingPair(out);
  const caBundlePem = Buffer.from(rotated.caBundle, 'base64').toString('utf8');
  assert.equal(await apiserverAccepts(old, caBundlePem), true, 'old certificate, while the Secret propagates');
  assert.equal(await apiserverAccepts(now, caBundlePem), true, 'new certificate, once it has');
  // What the overlap prevents: the new CA alone rejects the certificate the pods still serve.
  assert.equal(await apiserverAccepts(old, caBundleCerts(rotated.caBundle)[0]!), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('a second rotation drops the oldest CA: caBundle holds the newest two', async (t) => {
  const out = await tempDir(t);
  const first = await certsCommand({ out, validityDays: 30 }, capture());
  const oldest = await servingPair(out);
  const second = await certsCommand({ out, validityDays: 30, force: true }, capture());
  const middle = await servingPair(out);
  const io = capture();
  const third = await certsCommand({ out, validityDays: 30, force: true }, io);
  const certs = caBundleCerts(third.caBundle);
  assert.equal(certs.length, 2);
  assert.equal(certs[1], caBundleCerts(second.caBundle)[0], 'the previous (second) CA is carried');
  assert.ok(!certs.includes(caBundleCerts(first.caBundle)[0]!), 'the first CA is gone');
  assert.match(io.lines.join('\n'), /dropped CA CN=camel-oci webhook CA .* from caBundle: left from an earlier rotation/);
  const caBundlePem = Buffer.from(third.caBundle, 'base64').toString('utf8');
  assert.equal(await apiserverAccepts(middle, caBundlePem), true);
  assert.equal(await apiserverAccepts(await servingPair(out), caBundlePem), true);
  assert.equal(await apiserverAccepts(oldest, caBundlePem), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('an expired old CA is not carried into the new caBundle', async (t) => {
  const out = await tempDir(t);
  const then = new Date(Date.now() - 10 * DAY_MS);
  const ca = await generateCa({ commonName: 'camel-oci webhook CA', validityDays: 1, now: then });
  await writeCertBundle(out, await issueServingCert(ca, { service: 'camel-oci', namespace: 'camel-oci', validityDays: 1, now: then }), {
    now: then,
  });
  const io = capture();
  const result = await certsCommand({ out, validityDays: 30 }, io);
  assert.equal(result.status, 'written');
  assert.equal(caBundleCerts(result.caBundle).length, 1);
  assert.equal(result.previousCa, undefined);
  assert.equal(splitPemCertificates(await readFile(path.join(out, 'ca.crt'), 'utf8')).length, 1);
  const log = io.lines.join('\n');
  assert.match(log, /dropped CA CN=camel-oci webhook CA .* expired on/);
  assert.doesNotMatch(log, /stays trusted/);
});

test('says to apply with kubectl apply -k manifests/, and how to use an --out that is not certs/', async (t) => {
  const root = await tempDir(t);
  const certs = path.join(root, 'certs');
  const io = capture();
  await certsCommand({ out: certs, validityDays: 1 }, io);
  assert.ok(io.lines.some((l) => l.includes('kubectl apply -k manifests/')));
  assert.ok(!io.lines.some((l) => /overlay/.test(l)));
  assert.ok(!io.lines.some((l) => l.includes('components:')), 'certs/ beside manifests/ needs nothing else');
  const elsewhere = path.join(root, 'tls');
  await mkdir(elsewhere);
  const io2 = capture();
  await certsCommand({ out: elsewhere, validityDays: 1 }, io2);
  assert.ok(io2.lines.some((l) => l.includes('components:') && l.includes('tls')));
});

test('without --force, writes nothing over files it did not make: a kustomization of the user, a lone tls.crt/tls.key', async (t) => {
  const theirs = await tempDir(t);
  const kustomization = 'resources: [deployment.yaml]\n';
  await writeFile(path.join(theirs, 'kustomization.yaml'), kustomization);
  await assert.rejects(certsCommand({ out: theirs }, capture()), (e: unknown) => {
    assert.ok(isCamelOciError(e, 'CONFIG_INVALID'), String(e));
    assert.match(e.message, /kustomization\.yaml, which camel-oci certs did not write,.*--force/);
    return true;
  });
  assert.deepEqual(await readdir(theirs), ['kustomization.yaml'], 'nothing written');
  assert.equal(await readFile(path.join(theirs, 'kustomization.yaml'), 'utf8'), kustomization);

  const shop = await tempDir(t);
  await writeFile(path.join(shop, 'tls.crt'), 'their certificate');
  await writeFile(path.join(shop, 'tls.key'), 'their key');
  await assert.rejects(certsCommand({ out: shop }, capture()), (e: unknown) => {
    assert.ok(isCamelOciError(e, 'CONFIG_INVALID'), String(e));
    assert.match(e.message, /tls\.crt, tls\.key without the rest of a camel-oci certs bundle/);
    return true;
  });
  assert.equal(await readFile(path.join(shop, 'tls.key'), 'utf8'), 'their key', 'the key is not lost');
  assert.deepEqual((await readdir(shop)).sort(), ['tls.crt', 'tls.key']);

  const forced = await certsCommand({ out: shop, force: true }, capture());
  assert.equal(forced.status, 'written', '--force replaces them');
  assert.notEqual(await readFile(path.join(shop, 'tls.key'), 'utf8'), 'their key');
});

test('a kept bundle missing some of its files gets them back from the kept certificates (same key)', async (t) => {
  const out = await tempDir(t);
  await certsCommand({ out }, capture());
  const key = await readFile(path.join(out, 'tls.key'), 'utf8');
  const secret = await readFile(path.join(out, 'secret.yaml'), 'utf8');
  await rm(path.join(out, 'secret.yaml'));
  await rm(path.join(out, 'caBundle'));
  const io = capture();
  const again = await certsCommand({ out }, io);
  assert.equal(again.status, 'kept');
  assert.ok(
    io.lines.some((l) => /^restored .*secret\.yaml/.test(l) && l.includes('caBundle')),
    io.lines.join('\n'),
  );
  assert.equal(await readFile(path.join(out, 'secret.yaml'), 'utf8'), secret, 'the same Secret, the same key');
  assert.equal(await readFile(path.join(out, 'tls.key'), 'utf8'), key);
  assert.equal((await readdir(out)).length, 7);
});
