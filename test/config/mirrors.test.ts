import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_MIRRORS_PER_REGISTRY, parseRegistryMirrors } from '../../src/config/mirrors.js';

const asObject = (m: ReadonlyMap<string, readonly string[]>) => Object.fromEntries(m);

describe('parseRegistryMirrors', () => {
  it('reads UPSTREAM=MIRROR lists, comma-split items continuing the upstream before them', () => {
    // What the list parser hands over for `--registry-mirror docker.io=m1.example,127.0.0.1:5001 --registry-mirror quay.io=[::1]:5002`.
    const m = parseRegistryMirrors(['docker.io=m1.example', '127.0.0.1:5001', 'quay.io=[::1]:5002']);
    assert.deepEqual(asObject(m), { 'docker.io': ['m1.example', '127.0.0.1:5001'], 'quay.io': ['[::1]:5002'] });
  });

  it('merges an upstream named twice, in order, without duplicates, and lower-cases host names', () => {
    const m = parseRegistryMirrors(['Docker.IO=M1.example', 'docker.io=m2.example', 'docker.io=m1.example']);
    assert.deepEqual(asObject(m), { 'docker.io': ['m1.example', 'm2.example'] });
  });

  it('is empty without the flag', () => {
    assert.equal(parseRegistryMirrors([]).size, 0);
  });

  const bad: [string, readonly string[], RegExp][] = [
    ['a mirror before any upstream', ['m1.example'], /"m1\.example" has no UPSTREAM= before it/],
    ['a scheme', ['docker.io=https://m1.example'], /mirror "https:\/\/m1\.example" is not a host\[:port\]/],
    ['a path', ['docker.io=m1.example/v2/proxy'], /mirror "m1\.example\/v2\/proxy" is not a host\[:port\]/],
    ['credentials', ['docker.io=user:pw@m1.example'], /is not a host\[:port\]/],
    ['an empty mirror', ['docker.io='], /mirror "" is not a host\[:port\]/],
    ['an empty upstream', ['=m1.example'], /upstream "" is not a host\[:port\]/],
    ['port 0', ['docker.io=m1.example:0'], /mirror "m1\.example:0"/],
    ['a port over 65535', ['docker.io=m1.example:65536'], /mirror "m1\.example:65536"/],
    ['an upstream as its own mirror', ['docker.io=docker.io'], /docker\.io is listed as its own mirror/],
    [
      `more than ${MAX_MIRRORS_PER_REGISTRY} mirrors`,
      ['docker.io=m0.example', ...Array.from({ length: MAX_MIRRORS_PER_REGISTRY }, (_, i) => `m${i + 1}.example`)],
      /more than 8 mirrors for one registry/,
    ],
  ];
  for (const [name, items, message] of bad) {
    it(`refuses ${name} with CONFIG_INVALID`, () => {
      assert.throws(
        () => parseRegistryMirrors(items),
        (err: any) => err.code === 'CONFIG_INVALID' && /^--registry-mirror: /.test(err.message) && message.test(err.message),
      );
    });
  }
});
