import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import test from 'node:test';
import tls from 'node:tls';
import forge from 'node-forge';
import {
  CLOCK_SKEW_MS,
  generateCa,
  issueCert,
  issueServingCert,
  serviceDnsNames,
  type CertificateAuthority,
} from '../../src/certs/x509.js';
import { isCamelOciError } from '../../src/base/errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

// One CA for the file: key generation is the slow part.
const caPromise = generateCa({ commonName: 'camel-oci test CA', validityDays: 30 });
const servingPromise = caPromise.then((ca) => issueServingCert(ca, { service: 'camel-oci', namespace: 'camel-oci', validityDays: 10 }));

function forgeCert(pem: string): forge.pki.Certificate {
  return forge.pki.certificateFromPem(pem);
}

test('the CA is a CA: basicConstraints cA true (critical), keyCertSign, self-signed', async () => {
  const ca = await caPromise;
  const x = new X509Certificate(ca.certPem);
  assert.equal(x.ca, true);
  assert.ok(x.checkIssued(x) && x.verify(x.publicKey));
  const f = forgeCert(ca.certPem);
  const bc = f.getExtension('basicConstraints') as { cA?: boolean; critical?: boolean };
  assert.equal(bc.cA, true);
  assert.equal(bc.critical, true);
  const ku = f.getExtension('keyUsage') as { keyCertSign?: boolean };
  assert.equal(ku.keyCertSign, true);
  assert.equal(x.subject, 'CN=camel-oci test CA');
});

const servingNameCases = [
  {
    name: 'the four Service names, in order',
    options: { service: 'camel-oci', namespace: 'camel-oci' },
    san: 'DNS:camel-oci, DNS:camel-oci.camel-oci, DNS:camel-oci.camel-oci.svc, DNS:camel-oci.camel-oci.svc.cluster.local',
  },
  {
    name: 'other Service and namespace',
    options: { service: 'hook', namespace: 'team-a' },
    san: 'DNS:hook, DNS:hook.team-a, DNS:hook.team-a.svc, DNS:hook.team-a.svc.cluster.local',
  },
  {
    name: 'extras after the Service names (dev default), IPv4 and IPv6',
    options: { service: 'camel-oci', namespace: 'ns', extraDnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] },
    san:
      'DNS:camel-oci, DNS:camel-oci.ns, DNS:camel-oci.ns.svc, DNS:camel-oci.ns.svc.cluster.local, DNS:localhost, ' +
      'IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
  },
  {
    name: 'an extra that repeats a Service name is not listed twice',
    options: { service: 'a', namespace: 'b', extraDnsNames: ['a.b.svc'] },
    san: 'DNS:a, DNS:a.b, DNS:a.b.svc, DNS:a.b.svc.cluster.local',
  },
];

for (const c of servingNameCases) {
  test(`serving certificate SAN: ${c.name}`, async () => {
    const bundle = await issueServingCert(await caPromise, { ...c.options, validityDays: 1 });
    assert.equal(new X509Certificate(bundle.certPem).subjectAltName, c.san);
  });
}

test('serviceDnsNames lists NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local', () => {
  assert.deepEqual(serviceDnsNames('x', 'y'), ['x', 'x.y', 'x.y.svc', 'x.y.svc.cluster.local']);
});

test('serving certificate: serverAuth only, digitalSignature + keyEncipherment, not a CA, CN NAME.NS.svc', async () => {
  const bundle = await servingPromise;
  const x = new X509Certificate(bundle.certPem);
  assert.deepEqual(x.keyUsage, [SERVER_AUTH_OID]); // node:crypto's keyUsage lists the extended key usages
  assert.equal(x.ca, false);
  assert.equal(x.subject, 'CN=camel-oci.camel-oci.svc');
  const ku = forgeCert(bundle.certPem).getExtension('keyUsage') as Record<string, boolean>;
  assert.equal(ku['digitalSignature'], true);
  assert.equal(ku['keyEncipherment'], true);
  assert.equal(ku['keyCertSign'], false);
});

test('the CA verifies the serving certificate and the key matches it', async () => {
  const [ca, bundle] = await Promise.all([caPromise, servingPromise]);
  const caX = new X509Certificate(ca.certPem);
  const x = new X509Certificate(bundle.certPem);
  assert.ok(x.checkIssued(caX));
  assert.ok(x.verify(caX.publicKey));
  assert.equal(bundle.caCertPem, ca.certPem);
  assert.ok(x.checkPrivateKey(createPrivateKey(bundle.keyPem)));
  // Another CA must not verify it.
  const other = new X509Certificate((await generateCa({ commonName: 'other', validityDays: 1 })).certPem);
  assert.ok(!x.verify(other.publicKey));
  assert.ok(!x.checkIssued(other));
});

test('authorityKeyIdentifier of the serving certificate is the CA subjectKeyIdentifier', async () => {
  const [ca, bundle] = await Promise.all([caPromise, servingPromise]);
  const ski = (forgeCert(ca.certPem).getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string }).subjectKeyIdentifier;
  const akiExt = forgeCert(bundle.certPem).getExtension('authorityKeyIdentifier') as { value: string };
  // value is the DER SEQUENCE { [0] keyIdentifier }; its last 20 bytes are the key id.
  assert.equal(forge.util.bytesToHex(akiExt.value).slice(-40), ski);
});

test('validity: notBefore back-dated by the clock skew, notAfter validityDays later, never after the CA', async () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const ca = await generateCa({ commonName: 'dated', validityDays: 5, now });
  const caX = new X509Certificate(ca.certPem);
  assert.equal(new Date(caX.validFrom).getTime(), now.getTime() - CLOCK_SKEW_MS);
  assert.equal(new Date(caX.validTo).getTime(), now.getTime() + 5 * DAY_MS);
  const short = new X509Certificate((await issueServingCert(ca, { service: 's', namespace: 'n', validityDays: 2, now })).certPem);
  assert.equal(new Date(short.validTo).getTime(), now.getTime() + 2 * DAY_MS);
  const long = new X509Certificate((await issueServingCert(ca, { service: 's', namespace: 'n', validityDays: 30, now })).certPem);
  assert.equal(new Date(long.validTo).getTime(), new Date(caX.validTo).getTime());
});

test('serial numbers are random and positive', async () => {
  const ca = await caPromise;
  const a = new X509Certificate((await issueServingCert(ca, { service: 's', namespace: 'n', validityDays: 1 })).certPem);
  const b = new X509Certificate((await issueServingCert(ca, { service: 's', namespace: 'n', validityDays: 1 })).certPem);
  assert.notEqual(a.serialNumber, b.serialNumber);
  for (const x of [a, b]) assert.match(x.serialNumber, /^[4-7][0-9A-F]{31}$/);
});

const invalidServingOptions = [
  { name: 'upper-case service', options: { service: 'Camel', namespace: 'ns', validityDays: 1 } },
  { name: 'underscore in namespace', options: { service: 'svc', namespace: 'my_ns', validityDays: 1 } },
  { name: 'dotted service', options: { service: 'a.b', namespace: 'ns', validityDays: 1 } },
  { name: 'zero days', options: { service: 'svc', namespace: 'ns', validityDays: 0 } },
  { name: 'fractional days', options: { service: 'svc', namespace: 'ns', validityDays: 1.5 } },
  { name: 'more than ten years', options: { service: 'svc', namespace: 'ns', validityDays: 3651 } },
  { name: 'bad IP', options: { service: 'svc', namespace: 'ns', validityDays: 1, ipAddresses: ['127.0.0.256'] } },
  { name: 'bad extra DNS name', options: { service: 'svc', namespace: 'ns', validityDays: 1, extraDnsNames: ['-bad-.example'] } },
];

for (const c of invalidServingOptions) {
  test(`refuses invalid serving options: ${c.name}`, async () => {
    await assert.rejects(issueServingCert(await caPromise, c.options), (err) => isCamelOciError(err, 'CONFIG_INVALID'));
  });
}

test('refuses a CA whose key does not match, and a leaf used as a CA', async () => {
  const [ca, bundle] = await Promise.all([caPromise, servingPromise]);
  const badPairs: CertificateAuthority[] = [
    { certPem: ca.certPem, keyPem: bundle.keyPem },
    { certPem: bundle.certPem, keyPem: bundle.keyPem },
  ];
  for (const bad of badPairs) {
    await assert.rejects(issueCert(bad, { commonName: 'x', dnsNames: ['x'], validityDays: 1 }), (err) =>
      isCamelOciError(err, 'CONFIG_INVALID'),
    );
  }
});

test('a long Service name still yields a certificate (common name falls back to the Service name)', async () => {
  const service = 's'.repeat(40);
  const namespace = 'n'.repeat(40);
  const x = new X509Certificate((await issueServingCert(await caPromise, { service, namespace, validityDays: 1 })).certPem);
  assert.equal(x.subject, `CN=${service}`);
  assert.ok(x.checkHost(`${service}.${namespace}.svc`, { subject: 'never' }));
});

/** Handshakes with a TLS server serving `pems` on 127.0.0.1, as the apiserver would dial `servername`. */
async function handshake(
  pems: { certPem: string; keyPem: string },
  client: { servername: string; ca: string },
): Promise<{ ok: true; checkedHost: string | undefined } | { ok: false; code: string }> {
  const server = tls.createServer({ cert: pems.certPem, key: pems.keyPem }, (socket) => socket.end());
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      let checkedHost: string | undefined;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: client.servername,
        ca: client.ca,
        checkServerIdentity: (host, cert) => {
          checkedHost = host;
          return tls.checkServerIdentity(host, cert);
        },
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve({ ok: true, checkedHost });
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        socket.destroy();
        resolve({ ok: false, code: err.code ?? err.message });
      });
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const acceptedServerNames = ['camel-oci.camel-oci.svc', 'camel-oci', 'camel-oci.camel-oci', 'camel-oci.camel-oci.svc.cluster.local'];
for (const servername of acceptedServerNames) {
  test(`a TLS client trusting the CA accepts the serving certificate for ${servername}`, async () => {
    const [ca, bundle] = await Promise.all([caPromise, servingPromise]);
    const result = await handshake(bundle, { servername, ca: ca.certPem });
    assert.deepEqual(result, { ok: true, checkedHost: servername });
  });
}

const rejectedServerNames = [
  'other.camel-oci.svc',
  'camel-oci.other.svc',
  'x.camel-oci.camel-oci.svc',
  'camel-oci.camel-oci.svc.cluster',
  'localhost',
];
for (const servername of rejectedServerNames) {
  test(`a TLS client trusting the CA rejects the serving certificate for ${servername}`, async () => {
    const [ca, bundle] = await Promise.all([caPromise, servingPromise]);
    const result = await handshake(bundle, { servername, ca: ca.certPem });
    assert.deepEqual(result, { ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
}

test('a TLS client trusting another CA rejects the serving certificate', async () => {
  const bundle = await servingPromise;
  const other = await generateCa({ commonName: 'other CA', validityDays: 1 });
  const result = await handshake(bundle, { servername: 'camel-oci.camel-oci.svc', ca: other.certPem });
  assert.deepEqual(result, { ok: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});
