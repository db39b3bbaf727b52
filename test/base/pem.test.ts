import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certificatesOf, isCertificatesOnly } from '../../src/base/pem.js';
import { makeTestCa } from '../helpers/test-ca.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n';

describe('PEM certificates', () => {
  let dir: string;
  let certPem: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'camel-oci-pem-'));
    certPem = (await makeTestCa(dir)).certPem;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('certificatesOf keeps certificates only, re-encoded canonically', () => {
    const text = `a comment\r\n${KEY}${certPem.replace(/\n/g, '\r\n')}trailing text`;
    assert.deepEqual(certificatesOf(text, 'x'), [new X509Certificate(certPem).toString()]);
    assert.equal(certificatesOf(certPem + certPem, 'x').length, 2);
  });

  const bad: { name: string; text: () => string; message: RegExp }[] = [
    { name: 'no certificate', text: () => KEY, message: /^src: no PEM certificate in it/ },
    {
      name: 'a block without END',
      text: () => certPem.slice(0, certPem.indexOf('-----END')),
      message: /^src: 1 of its 1 certificate blocks are not well formed/,
    },
    {
      name: 'base64 that is no certificate',
      text: () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      message: /^src: certificate 1 of 1 is not a valid X\.509 certificate/,
    },
  ];
  for (const c of bad) {
    it(`certificatesOf refuses ${c.name} with CONFIG_INVALID naming the source`, () => {
      assert.throws(
        () => certificatesOf(c.text(), 'src'),
        (err: any) => err.code === 'CONFIG_INVALID' && c.message.test(err.message),
      );
    });
  }

  it('isCertificatesOnly allows certificate blocks and white space, nothing else', () => {
    assert.equal(isCertificatesOnly(certPem), true);
    assert.equal(isCertificatesOnly(`\n${certPem}\n${certPem}`), true);
    assert.equal(isCertificatesOnly(certPem + KEY), false, 'never a key');
    assert.equal(isCertificatesOnly(`# ca\n${certPem}`), false, 'no text around blocks');
    assert.equal(isCertificatesOnly(''), false);
    assert.equal(isCertificatesOnly('-----BEGIN CERTIFICATE----------END CERTIFICATE-----'), false, 'no empty block');
  });
});
