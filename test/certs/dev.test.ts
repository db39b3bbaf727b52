import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { writeCertBundle } from '../../src/certs/bundle.js';
import { DEV_CA_COMMON_NAME, ensureDevCerts } from '../../src/certs/dev.js';
import { isCamelOciError } from '../../src/base/errors.js';
import { generateCa, issueCert, issueServingCert } from '../../src/certs/x509.js';

async function tempDir(t: test.TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-dev-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('generates a dev CA and a certificate for localhost, 127.0.0.1 and ::1, then reuses them', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureDevCerts(dir);
  assert.equal(first.generated, true);
  const cert = new X509Certificate(await readFile(first.certFile));
  assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  const ca = new X509Certificate(await readFile(first.caFile));
  assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey));
  assert.equal(first.notAfter.getTime(), new Date(cert.validTo).getTime());

  const again = await ensureDevCerts(dir);
  assert.equal(again.generated, false);
  assert.equal(await readFile(again.certFile, 'utf8'), cert.toString());
  assert.deepEqual([again.certFile, again.keyFile, again.caFile], [first.certFile, first.keyFile, first.caFile]);
});

const replacedDevBundles = [
  {
    name: 'a development bundle expiring within 7 days',
    make: async () => {
      const ca = await generateCa({ commonName: DEV_CA_COMMON_NAME, validityDays: 30 });
      return issueCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 6 });
    },
    reason: /expires soon/,
  },
  {
    name: 'a development bundle without 127.0.0.1',
    make: async () => {
      const ca = await generateCa({ commonName: DEV_CA_COMMON_NAME, validityDays: 30 });
      return issueCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], validityDays: 30 });
    },
    reason: /not valid for 127.0.0.1/,
  },
];
for (const c of replacedDevBundles) {
  test(`replaces ${c.name}`, async (t) => {
    const dir = await tempDir(t);
    const old = await c.make();
    await writeCertBundle(dir, old);
    const result = await ensureDevCerts(dir);
    assert.equal(result.generated, true);
    assert.match(result.reason ?? '', c.reason);
    const cert = await readFile(result.certFile, 'utf8');
    assert.notEqual(cert, old.certPem);
    assert.ok(new X509Certificate(cert).checkIP('127.0.0.1'));
  });
}

test('replaces an unreadable bundle', async (t) => {
  const dir = await tempDir(t);
  for (const f of ['ca.crt', 'tls.crt', 'tls.key']) await writeFile(path.join(dir, f), 'junk');
  const result = await ensureDevCerts(dir);
  assert.equal(result.generated, true);
  assert.ok(new X509Certificate(await readFile(result.certFile)).checkHost('localhost'));
});

test('refuses, and leaves alone, certificates for a Service made by camel-oci certs in the same directory', async (t) => {
  const dir = await tempDir(t);
  const service = await issueServingCert(await generateCa({ commonName: 'camel-oci webhook CA', validityDays: 30 }), {
    service: 'camel-oci',
    namespace: 'camel-oci',
    validityDays: 30,
  });
  await writeCertBundle(dir, service, { kustomize: { secretName: 's', namespace: 'camel-oci', webhookName: 'w' } });
  const before = (await readdir(dir)).sort();
  await assert.rejects(
    ensureDevCerts(dir),
    (err) => isCamelOciError(err, 'CONFIG_INVALID') && /another CA \(CN=camel-oci webhook CA\)/.test(err.message),
  );
  assert.deepEqual((await readdir(dir)).sort(), before);
  assert.equal(await readFile(path.join(dir, 'tls.crt'), 'utf8'), service.certPem);
});

test('reuses a user-made bundle valid for localhost and 127.0.0.1 even without ::1', async (t) => {
  const dir = await tempDir(t);
  const ca = await generateCa({ commonName: 'mine', validityDays: 30 });
  const mine = await issueCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 30 });
  await writeCertBundle(dir, mine);
  const result = await ensureDevCerts(dir);
  assert.equal(result.generated, false);
  assert.equal(await readFile(result.certFile, 'utf8'), mine.certPem);
});

test('reuses a development bundle whose ca.crt also holds a previous CA after the signing one', async (t) => {
  const dir = await tempDir(t);
  const [ca, previous] = await Promise.all([
    generateCa({ commonName: DEV_CA_COMMON_NAME, validityDays: 30 }),
    generateCa({ commonName: DEV_CA_COMMON_NAME, validityDays: 30 }),
  ]);
  const bundle = await issueCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 30 });
  await writeCertBundle(dir, { ...bundle, caCertPem: bundle.caCertPem + previous.certPem });
  const result = await ensureDevCerts(dir);
  assert.equal(result.generated, false, result.reason);
  assert.equal(await readFile(result.certFile, 'utf8'), bundle.certPem);
});

test('replaces an expiring development bundle with two CAs by one with the new CA only', async (t) => {
  const dir = await tempDir(t);
  const [ca, previous] = await Promise.all([
    generateCa({ commonName: DEV_CA_COMMON_NAME, validityDays: 30 }),
    generateCa({ commonName: DEV_CA_COMMON_NAME, validityDays: 30 }),
  ]);
  const old = await issueCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 2 });
  await writeCertBundle(dir, { ...old, caCertPem: old.caCertPem + previous.certPem });
  const result = await ensureDevCerts(dir);
  assert.equal(result.generated, true);
  assert.match(result.reason ?? '', /expires soon/);
  const caPem = await readFile(result.caFile, 'utf8');
  assert.equal(caPem.match(/BEGIN CERTIFICATE/g)?.length, 1, 'a local client trusts ca.crt directly: no rotation overlap needed');
  const cert = new X509Certificate(await readFile(result.certFile));
  assert.ok(cert.verify(new X509Certificate(caPem).publicKey));
});

test('refuses a rotated Service bundle (two CAs in ca.crt) in the development directory', async (t) => {
  const dir = await tempDir(t);
  const [ca, previous] = await Promise.all([
    generateCa({ commonName: 'camel-oci webhook CA', validityDays: 30 }),
    generateCa({ commonName: 'camel-oci webhook CA', validityDays: 30 }),
  ]);
  const service = await issueServingCert(ca, { service: 'camel-oci', namespace: 'camel-oci', validityDays: 30 });
  await writeCertBundle(dir, { ...service, caCertPem: service.caCertPem + previous.certPem });
  await assert.rejects(
    ensureDevCerts(dir),
    (err) => isCamelOciError(err, 'CONFIG_INVALID') && /another CA \(CN=camel-oci webhook CA\)/.test(err.message),
  );
  assert.equal(await readFile(path.join(dir, 'tls.crt'), 'utf8'), service.certPem);
});
