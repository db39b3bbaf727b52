import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { parse } from 'yaml';
import { BUNDLE_FILES, bundlePaths, readCertBundle, writeCertBundle } from '../../src/certs/bundle.js';
import { caBundleOf } from '../../src/certs/render.js';
import { generateCa, issueServingCert } from '../../src/certs/x509.js';
import { isCamelOciError } from '../../src/base/errors.js';

const caPromise = generateCa({ commonName: 'bundle CA', validityDays: 60 });
const issue = async (validityDays: number, service = 'camel-oci') =>
  issueServingCert(await caPromise, { service, namespace: 'camel-oci', validityDays });
const kustomize = { secretName: 'camel-oci-tls', namespace: 'camel-oci', webhookName: 'camel-oci' };

async function tempDir(t: test.TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-certs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;

test('writes ca.crt, tls.crt, tls.key (0600), caBundle and the kustomize files (secret 0600)', async (t) => {
  const dir = path.join(await tempDir(t), 'nested', 'certs');
  const bundle = await issue(30);
  const result = await writeCertBundle(dir, bundle, { kustomize });
  assert.equal(result.status, 'written');
  const p = bundlePaths(dir);
  assert.equal(await readFile(p.caFile, 'utf8'), bundle.caCertPem);
  assert.equal(await readFile(p.certFile, 'utf8'), bundle.certPem);
  assert.equal(await readFile(p.keyFile, 'utf8'), bundle.keyPem);
  const caBundle = await readFile(p.caBundleFile, 'utf8');
  assert.equal(caBundle, caBundleOf(bundle.caCertPem));
  assert.ok(!caBundle.includes('\n'));
  assert.equal(await modeOf(p.keyFile), 0o600);
  assert.equal(await modeOf(path.join(dir, 'secret.yaml')), 0o600);
  assert.equal((await modeOf(p.certFile)) & 0o077 & ~0o044, 0, 'certificates are not group/world writable');
  const patch = parse(await readFile(path.join(dir, 'cabundle-patch.yaml'), 'utf8')) as Array<{ value: string }>;
  assert.equal(patch[0]?.value, caBundle);
  assert.deepEqual(
    (await readdir(dir)).sort(),
    ['cabundle-patch.yaml', 'caBundle', 'ca.crt', 'kustomization.yaml', 'secret.yaml', 'tls.crt', 'tls.key'].sort(),
  );
  assert.deepEqual([...result.files].sort(), (await readdir(dir)).map((f) => path.join(p.dir, f)).sort());
  assert.deepEqual(await readCertBundle(dir), bundle);
});

test('keeps an existing valid bundle for the same names unless forced', async (t) => {
  const dir = await tempDir(t);
  const first = await issue(30);
  await writeCertBundle(dir, first);
  const second = await issue(30);
  const kept = await writeCertBundle(dir, second);
  assert.equal(kept.status, 'kept');
  assert.match(kept.reason ?? '', /--force/);
  assert.equal(await readFile(path.join(dir, BUNDLE_FILES.cert), 'utf8'), first.certPem);
  const forced = await writeCertBundle(dir, second, { force: true });
  assert.equal(forced.status, 'written');
  assert.equal(await readFile(path.join(dir, BUNDLE_FILES.cert), 'utf8'), second.certPem);
});

const replacedBundleCases = [
  { name: 'expiring within 7 days', existing: () => issue(3), reason: /expires soon/ },
  { name: 'for another Service', existing: () => issue(30, 'other'), reason: /not valid for camel-oci/ },
];
for (const c of replacedBundleCases) {
  test(`replaces an existing bundle ${c.name}`, async (t) => {
    const dir = await tempDir(t);
    await writeCertBundle(dir, await c.existing());
    const fresh = await issue(30);
    const result = await writeCertBundle(dir, fresh);
    assert.equal(result.status, 'written');
    assert.match(result.reason ?? '', c.reason);
    assert.equal(await readFile(path.join(dir, BUNDLE_FILES.cert), 'utf8'), fresh.certPem);
  });
}

test('replaces a broken existing bundle (garbage key)', async (t) => {
  const dir = await tempDir(t);
  await writeCertBundle(dir, await issue(30));
  await writeFile(path.join(dir, BUNDLE_FILES.key), 'garbage');
  const fresh = await issue(30);
  assert.equal((await writeCertBundle(dir, fresh)).status, 'written');
  assert.equal(await readFile(path.join(dir, BUNDLE_FILES.key), 'utf8'), fresh.keyPem);
});

test('removes kustomize files of an earlier run when writing without kustomize', async (t) => {
  const dir = await tempDir(t);
  await writeCertBundle(dir, await issue(30), { kustomize });
  await writeCertBundle(dir, await issue(30), { force: true });
  assert.deepEqual((await readdir(dir)).sort(), ['caBundle', 'ca.crt', 'tls.crt', 'tls.key'].sort());
});

test('refuses to write a bundle whose key does not match its certificate, and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const [a, b] = await Promise.all([issue(30), issue(30)]);
  await assert.rejects(writeCertBundle(dir, { ...a, keyPem: b.keyPem }), (err) => isCamelOciError(err, 'CONFIG_INVALID'));
  assert.deepEqual(await readdir(dir), []);
});

test('readCertBundle returns undefined when a file is missing', async (t) => {
  const dir = await tempDir(t);
  assert.equal(await readCertBundle(dir), undefined);
  await writeCertBundle(dir, await issue(30));
  await rm(path.join(dir, BUNDLE_FILES.caCert));
  assert.equal(await readCertBundle(dir), undefined);
});

test('the written CA verifies the written serving certificate', async (t) => {
  const dir = await tempDir(t);
  await writeCertBundle(dir, await issue(30));
  const p = bundlePaths(dir);
  const ca = new X509Certificate(await readFile(p.caFile));
  const cert = new X509Certificate(await readFile(p.certFile));
  assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey));
});

test('reads back and keeps a bundle whose ca.crt holds the signing CA then a previous CA', async (t) => {
  const dir = await tempDir(t);
  const previous = await generateCa({ commonName: 'previous CA', validityDays: 60 });
  const bundle = await issue(30);
  const rotated = { ...bundle, caCertPem: bundle.caCertPem + previous.certPem };
  await writeCertBundle(dir, rotated, { kustomize });
  assert.deepEqual(await readCertBundle(dir), rotated);
  assert.equal(await readFile(path.join(dir, BUNDLE_FILES.caBundle), 'utf8'), caBundleOf(rotated.caCertPem));
  const kept = await writeCertBundle(dir, await issue(30));
  assert.equal(kept.status, 'kept', 'a valid rotated bundle passes the reuse check');
});
