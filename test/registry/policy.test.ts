/** Registry policy: allow-list patterns, schemes, and the address checks made after DNS resolution. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isNonPublicAddress, parseHostPattern, RegistryPolicy } from '../../src/registry/policy.js';
import { isCamelOciError } from '../../src/base/errors.js';

const nonPublic = [
  '127.0.0.1',
  '127.1.2.3',
  '10.0.0.1',
  '172.16.5.4',
  '172.31.255.255',
  '192.168.1.1',
  '169.254.169.254',
  '100.100.100.200',
  '0.0.0.0',
  '224.0.0.1',
  '255.255.255.255',
  '::1',
  '::',
  'fe80::1',
  'fd00:ec2::254',
  'fc00::1',
  '::ffff:127.0.0.1',
  '::ffff:a9fe:a9fe',
  '64:ff9b::a9fe:a9fe',
  '2002:a9fe:a9fe::1',
  'ff02::1',
];
const publicAddresses = ['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];

describe('address classification', () => {
  for (const a of nonPublic) it(`treats ${a} as not public`, () => assert.equal(isNonPublicAddress(a), true));
  for (const a of publicAddresses) it(`treats ${a} as public`, () => assert.equal(isNonPublicAddress(a), false));
  it('treats a string that is not an address as not public (fail closed)', () => assert.equal(isNonPublicAddress('example.com'), true));
});

describe('RegistryPolicy', () => {
  const addr = (address: string) => [{ address, family: address.includes(':') ? 6 : 4 }];

  it('refuses a name resolving to any non-public address unless allowed, checking every address', () => {
    const p = new RegistryPolicy({ allowRegistries: [], insecureRegistries: [] });
    assert.throws(
      () => p.checkAddresses('evil.example.com', 443, addr('169.254.169.254')),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
    );
    assert.throws(
      () => p.checkAddresses('mixed.example.com', 443, [...addr('93.184.215.14'), ...addr('10.0.0.7')]),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
    );
    p.checkAddresses('registry.example.com', 443, addr('93.184.215.14'));
  });

  it('allows private addresses only for hosts named exactly by --allow-registry or --insecure-registry', () => {
    const p = new RegistryPolicy({
      allowRegistries: ['*.corp.example', 'registry.local:5000'],
      insecureRegistries: ['10.0.0.5:5000', '*.lab.example'],
    });
    assert.throws(
      () => p.checkAddresses('a.b.corp.example', 443, addr('10.1.1.1')),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
      'a wildcard allow entry does not allow private addresses',
    );
    p.checkAddresses('a.b.corp.example', 443, addr('93.184.215.14'));
    p.checkAddresses('registry.local', 5000, addr('192.168.0.9'));
    p.checkAddresses('10.0.0.5', 5000, addr('10.0.0.5'));
    assert.throws(
      () => p.checkAddresses('registry.local', 5001, addr('192.168.0.9')),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
    );
    assert.throws(
      () => p.checkAddresses('x.lab.example', 80, addr('10.9.9.9')),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
      'a wildcard insecure entry does not allow private addresses',
    );
    assert.throws(
      () => p.checkAddresses('corp.example', 443, addr('10.1.1.1')),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
      '*.corp.example is subdomains only',
    );
  });

  it('restricts registries to the allow-list, by reference domain or endpoint', () => {
    const p = new RegistryPolicy({ allowRegistries: ['registry-1.docker.io', 'quay.io:443'], insecureRegistries: ['10.0.0.5:5000'] });
    p.checkRegistry('docker.io', 'registry-1.docker.io', 'ref');
    assert.throws(
      () => p.checkRegistry('ghcr.io', 'ghcr.io', 'container:ghcr.io/a/b:1'),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED') && /--allow-registry/.test((e as Error).message),
    );
    assert.throws(
      () => p.checkRegistry('10.0.0.5:5000', '10.0.0.5:5000', 'ref'),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
      'insecure does not extend the allow-list',
    );
  });

  it('speaks plain HTTP only to insecure hosts, for redirects and token realms too', () => {
    const p = new RegistryPolicy({ allowRegistries: [], insecureRegistries: ['127.0.0.1:5000'] });
    assert.equal(p.schemeFor('127.0.0.1:5000'), 'http');
    assert.equal(p.schemeFor('127.0.0.1:5001'), 'https');
    p.checkUrl(new URL('http://127.0.0.1:5000/token'));
    p.checkUrl(new URL('https://auth.example.com/token'));
    assert.throws(
      () => p.checkUrl(new URL('http://s3.example.com/blob')),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
    );
    assert.throws(
      () => p.checkUrl(new URL('file:///etc/passwd')),
      (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
    );
  });

  it('refuses malformed patterns with CONFIG_INVALID', () => {
    for (const bad of ['', 'http://x', 'a b', '*.', 'host:99999', '**.x']) {
      assert.throws(
        () => parseHostPattern(bad),
        (e: unknown) => isCamelOciError(e, 'CONFIG_INVALID'),
        bad,
      );
    }
  });
});
