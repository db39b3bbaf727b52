/** Registry policy: allow-list patterns, schemes, and the address checks made after DNS resolution. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAddress, isNonPublicAddress, parseHostPattern, RegistryPolicy } from '../../src/registry/policy.js';
import { isCamelOciError } from '../../src/base/errors.js';

/** Addresses by meaning, with the range each must be classed in (IANA special-purpose registry examples among them). */
const addressVectors: ReadonlyArray<{ name: string; address: string; range: string; embedded?: string }> = [
  { name: 'IPv4 loopback', address: '127.0.0.1', range: 'loopback' },
  { name: 'IPv4 loopback, not the first address', address: '127.1.2.3', range: 'loopback' },
  { name: 'RFC 1918 10/8', address: '10.0.0.1', range: 'private' },
  { name: 'RFC 1918 172.16/12', address: '172.16.5.4', range: 'private' },
  { name: 'RFC 1918 172.16/12, last address', address: '172.31.255.255', range: 'private' },
  { name: 'RFC 1918 192.168/16', address: '192.168.1.1', range: 'private' },
  { name: 'link-local: cloud metadata (AWS, GCP, Azure)', address: '169.254.169.254', range: 'linkLocal' },
  { name: 'carrier-grade NAT: Alibaba metadata', address: '100.100.100.200', range: 'carrierGradeNat' },
  { name: '"this network" 0/8', address: '0.0.0.0', range: 'unspecified' },
  { name: 'IPv4 multicast', address: '224.0.0.1', range: 'multicast' },
  { name: 'limited broadcast', address: '255.255.255.255', range: 'broadcast' },
  { name: 'IETF protocol assignments 192.0.0/24', address: '192.0.0.8', range: 'reserved' },
  { name: 'documentation TEST-NET-1', address: '192.0.2.1', range: 'reserved' },
  { name: 'documentation TEST-NET-3', address: '203.0.113.7', range: 'reserved' },
  { name: 'benchmarking 198.18/15', address: '198.19.0.1', range: 'benchmarking' },
  { name: 'reserved 240/4', address: '240.0.0.1', range: 'reserved' },
  { name: 'IPv6 loopback', address: '::1', range: 'loopback' },
  { name: 'IPv6 unspecified', address: '::', range: 'unspecified' },
  { name: 'IPv6 link-local', address: 'fe80::1', range: 'linkLocal' },
  { name: 'unique-local: AWS IPv6 metadata', address: 'fd00:ec2::254', range: 'uniqueLocal' },
  { name: 'unique-local fc00::/7', address: 'fc00::1', range: 'uniqueLocal' },
  { name: 'deprecated site-local', address: 'fec0::1', range: 'siteLocal' },
  { name: 'IPv6 multicast', address: 'ff02::1', range: 'multicast' },
  { name: 'IPv6 documentation 2001:db8::/32', address: '2001:db8::1', range: 'reserved' },
  { name: 'discard-only 100::/64', address: '100::1', range: 'discard' },
  { name: 'Teredo tunnel', address: '2001:0:4136:e378:8000:63bf:3fff:fdd2', range: 'teredo' },
  { name: 'local-use NAT64 64:ff9b:1::/48', address: '64:ff9b:1::a9fe:a9fe', range: 'nat64Local' },
  { name: 'IPv4-mapped loopback', address: '::ffff:127.0.0.1', range: 'loopback', embedded: '127.0.0.1' },
  { name: 'IPv4-mapped metadata, hex form', address: '::ffff:a9fe:a9fe', range: 'linkLocal', embedded: '169.254.169.254' },
  { name: 'IPv4-compatible loopback', address: '::127.0.0.1', range: 'loopback', embedded: '127.0.0.1' },
  { name: 'IPv4-compatible metadata', address: '::169.254.169.254', range: 'linkLocal', embedded: '169.254.169.254' },
  { name: 'IPv4-compatible private, hex form', address: '::a00:1', range: 'private', embedded: '10.0.0.1' },
  { name: 'IPv4-translated (RFC 6145) metadata', address: '::ffff:0:169.254.169.254', range: 'linkLocal', embedded: '169.254.169.254' },
  { name: 'IPv4-translated (RFC 6145) private, hex form', address: '::ffff:0:c0a8:101', range: 'private', embedded: '192.168.1.1' },
  { name: 'NAT64 64:ff9b::/96 metadata', address: '64:ff9b::169.254.169.254', range: 'linkLocal', embedded: '169.254.169.254' },
  { name: 'NAT64 64:ff9b::/96 metadata, hex form', address: '64:ff9b::a9fe:a9fe', range: 'linkLocal', embedded: '169.254.169.254' },
  { name: '6to4 of metadata', address: '2002:a9fe:a9fe::1', range: 'linkLocal', embedded: '169.254.169.254' },
  { name: 'public IPv4', address: '93.184.215.14', range: 'unicast' },
  { name: 'public IPv4 resolver', address: '8.8.8.8', range: 'unicast' },
  { name: 'just past 172.16/12', address: '172.32.0.1', range: 'unicast' },
  { name: 'just past 198.18/15', address: '198.20.0.1', range: 'unicast' },
  { name: 'public IPv6', address: '2606:4700:4700::1111', range: 'unicast' },
  { name: 'IPv4-mapped public', address: '::ffff:8.8.8.8', range: 'unicast', embedded: '8.8.8.8' },
  { name: 'NAT64 of a public address', address: '64:ff9b::8.8.8.8', range: 'unicast', embedded: '8.8.8.8' },
  { name: 'not an address (fail closed)', address: 'example.com', range: 'invalid' },
];

describe('address classification', () => {
  for (const v of addressVectors) {
    it(`classes ${v.name} (${v.address}) as ${v.range}`, () => {
      const c = classifyAddress(v.address);
      assert.equal(c.range, v.range);
      assert.equal(c.embedded, v.embedded);
      assert.equal(isNonPublicAddress(v.address), v.range !== 'unicast');
    });
  }
  it('refuses a name whose only address is an IPv4-compatible or -translated form of metadata', () => {
    const p = new RegistryPolicy({ allowRegistries: [], insecureRegistries: [] });
    for (const address of ['::169.254.169.254', '::ffff:0:169.254.169.254', '::ffff:169.254.169.254', '64:ff9b::169.254.169.254']) {
      assert.throws(
        () => p.checkAddresses('evil.example.test', 443, [{ address, family: 6 }]),
        (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'),
        address,
      );
    }
  });
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

  describe('token realms (checkRealm)', () => {
    const denied = (e: unknown): boolean => isCamelOciError(e, 'POLICY_DENIED');
    const loopback = [{ address: '127.0.0.1', family: 4 }];

    it("takes a plain registry's http realm on its own host at another port, as distribution's token server runs", () => {
      const p = new RegistryPolicy({ allowRegistries: ['127.0.0.1:5000'], insecureRegistries: ['127.0.0.1:5000'] });
      assert.throws(() => p.checkUrl(new URL('http://127.0.0.1:5101/token')), denied, 'as a plain URL it is refused');
      const exempt = p.checkRealm(new URL('http://127.0.0.1:5101/token'), new URL('http://127.0.0.1:5000/v2/acme/deps/manifests/1.0'));
      assert.equal(exempt, true, 'the token request may skip the address check');
      p.checkAddresses('127.0.0.1', 5101, loopback, exempt);
      assert.throws(() => p.checkAddresses('127.0.0.1', 5101, loopback), denied, 'any other connection to that port is checked as before');
      assert.equal(p.schemeFor('127.0.0.1:5101'), 'https', 'the realm does not become an insecure registry');
    });

    it('never lets a realm downgrade an HTTPS registry to plain HTTP, on its host or elsewhere', () => {
      const p = new RegistryPolicy({ allowRegistries: ['127.0.0.1:5000'], insecureRegistries: [] });
      const registry = new URL('https://127.0.0.1:5000/v2/');
      assert.throws(
        () => p.checkRealm(new URL('http://127.0.0.1:5101/token'), registry),
        (e: unknown) => denied(e) && /--insecure-registry/.test((e as Error).message),
      );
      assert.throws(
        () => p.checkRealm(new URL('http://127.0.0.1:5101/token'), new URL('http://127.0.0.1:5000/v2/')),
        denied,
        'an http URL is not enough: the registry must be --insecure-registry',
      );
      assert.equal(p.checkRealm(new URL('https://127.0.0.1:5101/token'), registry), true);
    });

    it('checks a realm on another host as any host: scheme here, address when connecting', () => {
      const p = new RegistryPolicy({ allowRegistries: ['127.0.0.1:5000'], insecureRegistries: ['127.0.0.1:5000'] });
      const registry = new URL('http://127.0.0.1:5000/v2/');
      assert.throws(() => p.checkRealm(new URL('http://127.0.0.2:5101/token'), registry), denied);
      assert.equal(p.checkRealm(new URL('https://169.254.169.254/token'), registry), false, 'metadata stays refused when connecting');
      assert.equal(
        p.checkRealm(new URL('https://localhost:5101/token'), registry),
        false,
        'another name of the same address is another host',
      );
      assert.equal(p.checkRealm(new URL('https://127.0.0.1:5101/token'), new URL('https://[::1]:5000/v2/')), false);
    });

    it('exempts no address for a registry that is not named exactly', () => {
      const wildcard = new RegistryPolicy({ allowRegistries: ['*.internal'], insecureRegistries: [] });
      assert.equal(
        wildcard.checkRealm(new URL('https://registry.internal:5101/token'), new URL('https://registry.internal:5000/v2/')),
        false,
      );
      const open = new RegistryPolicy({ allowRegistries: [], insecureRegistries: [] });
      assert.equal(open.checkRealm(new URL('https://127.0.0.1:5101/token'), new URL('https://127.0.0.1:5000/v2/')), false);
      const v6 = new RegistryPolicy({ allowRegistries: ['[::1]:5000'], insecureRegistries: [] });
      assert.equal(
        v6.checkRealm(new URL('https://[::1]:5101/token'), new URL('https://[::1]:5000/v2/')),
        true,
        'IPv6, as the connector names it',
      );
    });
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
