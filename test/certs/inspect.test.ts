import assert from 'node:assert/strict';
import test from 'node:test';
import { checkCertBundle, subjectAltNames, type BundleRequirements } from '../../src/certs/inspect.js';
import { generateCa, issueServingCert, type CertBundle } from '../../src/certs/x509.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const now = new Date();

const material = (async () => {
  const ca = await generateCa({ commonName: 'inspect CA', validityDays: 30, now });
  const otherCa = await generateCa({ commonName: 'other CA', validityDays: 30, now });
  const good = await issueServingCert(ca, {
    service: 'camel-oci',
    namespace: 'ns',
    validityDays: 20,
    extraDnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    now,
  });
  const other = await issueServingCert(otherCa, { service: 'camel-oci', namespace: 'ns', validityDays: 20, now });
  const shortLived = await issueServingCert(ca, { service: 'camel-oci', namespace: 'ns', validityDays: 3, now });
  const expiredCa = await generateCa({ commonName: 'expired CA', validityDays: 1, now: new Date(now.getTime() - 10 * DAY_MS) });
  return { ca, otherCa, expiredCa, good, other, shortLived };
})();

type Material = Awaited<typeof material>;

const bundleCases: Array<{ name: string; bundle: (m: Material) => CertBundle; want?: BundleRequirements; reason?: RegExp }> = [
  {
    name: 'a fresh bundle for its names',
    bundle: (m) => m.good,
    want: { dnsNames: ['camel-oci.ns.svc', 'localhost'], ipAddresses: ['127.0.0.1', '::1'] },
  },
  { name: 'key of another certificate', bundle: (m) => ({ ...m.good, keyPem: m.other.keyPem }), reason: /private key does not belong/ },
  { name: 'certificate of another CA', bundle: (m) => ({ ...m.good, caCertPem: m.otherCa.certPem }), reason: /not signed by the CA/ },
  { name: 'a leaf as CA', bundle: (m) => ({ ...m.good, caCertPem: m.good.certPem }), reason: /not a CA/ },
  { name: 'garbage certificate', bundle: (m) => ({ ...m.good, certPem: 'nope' }), reason: /serving certificate is not a readable/ },
  { name: 'garbage key', bundle: (m) => ({ ...m.good, keyPem: 'nope' }), reason: /private key is not a readable/ },
  { name: 'expiring within the default 7 days', bundle: (m) => m.shortLived, reason: /serving certificate expires soon/ },
  { name: 'expiring but within a smaller margin', bundle: (m) => m.shortLived, want: { minRemainingMs: DAY_MS } },
  { name: 'expired', bundle: (m) => m.good, want: { now: new Date(now.getTime() + 40 * DAY_MS) }, reason: /expired on/ },
  { name: 'not yet valid', bundle: (m) => m.good, want: { now: new Date(now.getTime() - DAY_MS) }, reason: /not valid before/ },
  {
    name: 'missing DNS name',
    bundle: (m) => m.good,
    want: { dnsNames: ['camel-oci.other.svc'] },
    reason: /not valid for camel-oci.other.svc/,
  },
  { name: 'missing IP', bundle: (m) => m.other, want: { ipAddresses: ['127.0.0.1'] }, reason: /not valid for 127.0.0.1/ },
  {
    name: 'ca.crt after a rotation: the signing CA, then the previous CA',
    bundle: (m) => ({ ...m.good, caCertPem: m.ca.certPem + m.otherCa.certPem }),
  },
  {
    name: 'ca.crt after a rotation: the carried CA may have expired',
    bundle: (m) => ({ ...m.good, caCertPem: m.ca.certPem + m.expiredCa.certPem }),
  },
  {
    name: 'ca.crt whose first certificate is not the signing CA',
    bundle: (m) => ({ ...m.good, caCertPem: m.otherCa.certPem + m.ca.certPem }),
    reason: /not signed by the CA/,
  },
  {
    name: 'ca.crt with a leaf after the CA',
    bundle: (m) => ({ ...m.good, caCertPem: m.ca.certPem + m.other.certPem }),
    reason: /certificate 2 of the CA bundle/,
  },
  {
    name: 'ca.crt with a corrupt block after the CA',
    bundle: (m) => ({ ...m.good, caCertPem: `${m.ca.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n` }),
    reason: /certificate 2 of the CA bundle is not a readable/,
  },
  { name: 'the CN alone does not count', bundle: (m) => m.good, want: { dnsNames: ['camel-oci.ns.svc.'] }, reason: /not valid for/ },
];

for (const c of bundleCases) {
  test(`checkCertBundle: ${c.name}`, async () => {
    const m = await material;
    const result = checkCertBundle(c.bundle(m), { now, ...c.want });
    if (c.reason === undefined) {
      assert.equal(result.ok, true, result.ok ? '' : result.reason);
    } else {
      assert.equal(result.ok, false);
      assert.match((result as { reason: string }).reason, c.reason);
    }
  });
}

test('subjectAltNames lists DNS names and IPs in certificate order', async () => {
  const { good } = await material;
  assert.deepEqual(subjectAltNames(good.certPem), {
    dnsNames: ['camel-oci', 'camel-oci.ns', 'camel-oci.ns.svc', 'camel-oci.ns.svc.cluster.local', 'localhost'],
    ipAddresses: ['127.0.0.1', '0:0:0:0:0:0:0:1'],
  });
});
