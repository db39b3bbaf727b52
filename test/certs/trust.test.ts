import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import test from 'node:test';
import { MAX_TRUSTED_CAS, distinctCertificates, rotateTrustBundle, splitPemCertificates } from '../../src/certs/trust.js';
import { generateCa, issueServingCert } from '../../src/certs/x509.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const now = new Date();

// Key generation is the slow part: one set of CAs for the file.
const material = (async () => {
  const [fresh, previous, older, expired] = await Promise.all([
    generateCa({ commonName: 'new CA', validityDays: 30, now }),
    generateCa({ commonName: 'previous CA', validityDays: 30, now }),
    generateCa({ commonName: 'older CA', validityDays: 30, now }),
    // Valid for one day, ten days ago.
    generateCa({ commonName: 'expired CA', validityDays: 1, now: new Date(now.getTime() - 10 * DAY_MS) }),
  ]);
  const leaf = await issueServingCert(previous, { service: 's', namespace: 'n', validityDays: 5, now });
  return { fresh: fresh.certPem, previous: previous.certPem, older: older.certPem, expired: expired.certPem, leaf: leaf.certPem };
})();

type Material = Awaited<typeof material>;

const subjects = (pem: string): string[] => splitPemCertificates(pem).map((p) => new X509Certificate(p).subject);

const rotationCases: Array<{
  name: string;
  previous: (m: Material) => string | undefined;
  trusted: string[];
  dropped: RegExp[];
}> = [
  { name: 'a first run has nothing to carry', previous: () => undefined, trusted: ['CN=new CA'], dropped: [] },
  {
    name: 'the previous CA, still valid, is carried after the new one',
    previous: (m) => m.previous,
    trusted: ['CN=new CA', 'CN=previous CA'],
    dropped: [],
  },
  {
    name: 'a second rotation carries the previous CA and drops the one before it',
    previous: (m) => m.previous + m.older,
    trusted: ['CN=new CA', 'CN=previous CA'],
    dropped: [/earlier rotation/],
  },
  { name: 'an expired previous CA is not carried', previous: (m) => m.expired, trusted: ['CN=new CA'], dropped: [/expired on/] },
  {
    name: 'an expired previous CA is not carried, nor the valid one an earlier rotation kept after it',
    previous: (m) => m.expired + m.older,
    trusted: ['CN=new CA'],
    dropped: [/expired on/, /earlier rotation/],
  },
  { name: 'a leaf certificate in ca.crt is not carried', previous: (m) => m.leaf, trusted: ['CN=new CA'], dropped: [/not a CA/] },
  {
    name: 'a corrupt certificate block is not carried',
    previous: () => '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    trusted: ['CN=new CA'],
    dropped: [/not a readable certificate/],
  },
  { name: 'text without certificates carries nothing', previous: () => 'junk', trusted: ['CN=new CA'], dropped: [] },
  { name: 'the new CA itself is not listed twice', previous: (m) => m.fresh, trusted: ['CN=new CA'], dropped: [] },
];

for (const c of rotationCases) {
  test(`rotateTrustBundle: ${c.name}`, async () => {
    const m = await material;
    const result = rotateTrustBundle(m.fresh, c.previous(m), now);
    assert.deepEqual(subjects(result.caCertPem), c.trusted);
    assert.ok(splitPemCertificates(result.caCertPem).length <= MAX_TRUSTED_CAS);
    assert.equal(splitPemCertificates(result.caCertPem)[0], m.fresh, 'the new CA comes first, byte for byte');
    assert.equal(result.carried?.subject, c.trusted[1]);
    assert.equal(result.dropped.length, c.dropped.length);
    for (const [i, reason] of c.dropped.entries()) assert.match(result.dropped[i]?.reason ?? '', reason);
  });
}

test('rotateTrustBundle reports the carried CA by fingerprint and expiry', async () => {
  const m = await material;
  const x = new X509Certificate(m.previous);
  const result = rotateTrustBundle(m.fresh, m.previous, now);
  assert.deepEqual(result.carried, { subject: 'CN=previous CA', fingerprint256: x.fingerprint256, notAfter: new Date(x.validTo) });
  assert.equal(result.caCertPem, m.fresh + m.previous);
});

test('rotateTrustBundle drops a previous CA once `now` passes its expiry', async () => {
  const m = await material;
  const later = new Date(now.getTime() + 31 * DAY_MS);
  assert.deepEqual(subjects(rotateTrustBundle(m.fresh, m.previous, later).caCertPem), ['CN=new CA']);
});

test('rotateTrustBundle refuses a new CA that is not PEM', () => {
  assert.throws(() => rotateTrustBundle('nope', undefined, now), TypeError);
});

test('splitPemCertificates finds each block, ignores text around them and normalizes line ends', async () => {
  const m = await material;
  const crlf = m.previous.replace(/\n/g, '\r\n');
  const text = `subject=CN=new CA\n${m.fresh}\n# comment\n${crlf}trailing`;
  assert.deepEqual(splitPemCertificates(text), [m.fresh, m.previous]);
  assert.deepEqual(splitPemCertificates(''), []);
  assert.deepEqual(splitPemCertificates('-----BEGIN CERTIFICATE-----\nunterminated'), []);
});

test('distinctCertificates keeps each certificate once, the first of equal ones, in order', async () => {
  const [a, b] = await Promise.all([generateCa({ commonName: 'A', validityDays: 1 }), generateCa({ commonName: 'B', validityDays: 1 })]);
  // The same certificate with other line breaks is still the same certificate.
  const aAgain = a.certPem.replace(/\n/g, '\r\n');
  assert.deepEqual(distinctCertificates([a.certPem, b.certPem, aAgain, b.certPem]), [a.certPem, b.certPem]);
  assert.deepEqual(distinctCertificates([]), []);
});
