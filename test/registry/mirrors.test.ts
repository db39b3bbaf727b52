/** registry/mirrors.ts: which mirrors a registry has, their policy, and trying sources in order. No server needed. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CamelOciError, OciError } from '../../src/base/errors.js';
import { configuredMirrors, everySourceFailed, sourcesOf, trySources } from '../../src/registry/mirrors.js';
import type { RegistrySource } from '../../src/registry/mirrors.js';
import { RegistryPolicy } from '../../src/registry/policy.js';

const TABLE = new Map([
  ['docker.io', ['mirror-a.example.test', 'mirror-b.example.test']],
  ['registry-1.docker.io', ['mirror-b.example.test', 'mirror-c.example.test']],
  ['quay.io', ['quay.io']],
]);

describe('configuredMirrors', () => {
  it('matches the domain as written, then the host contacted, without duplicates', () => {
    assert.deepEqual(configuredMirrors(TABLE, 'docker.io', 'registry-1.docker.io'), [
      'mirror-a.example.test',
      'mirror-b.example.test',
      'mirror-c.example.test',
    ]);
    assert.deepEqual(configuredMirrors(TABLE, 'index.example.test', 'registry-1.docker.io'), [
      'mirror-b.example.test',
      'mirror-c.example.test',
    ]);
  });
  it('keeps at most as many as a plan carries', () => {
    const many = new Map([
      ['a.example.test', Array.from({ length: 8 }, (_, i) => `m${i}.example.test`)],
      ['b.example.test', Array.from({ length: 8 }, (_, i) => `n${i}.example.test`)],
    ]);
    assert.equal(configuredMirrors(many, 'a.example.test', 'b.example.test').length, 8);
  });
  it('gives none for an unlisted registry, and never the registry itself', () => {
    assert.deepEqual(configuredMirrors(TABLE, 'ghcr.io', 'ghcr.io'), []);
    assert.deepEqual(configuredMirrors(TABLE, 'quay.io', 'quay.io'), []);
    assert.deepEqual(configuredMirrors(undefined, 'docker.io', 'registry-1.docker.io'), []);
  });
});

describe('sourcesOf applies the registry policy to mirrors', () => {
  const upstream = { registry: 'registry.example.test', scheme: 'https' as const };
  it('puts mirrors first and the upstream last, with https unless --insecure-registry names the mirror', () => {
    const policy = new RegistryPolicy({ allowRegistries: [], insecureRegistries: ['lab.example.test:5000'] });
    assert.deepEqual(sourcesOf(policy, upstream, ['lab.example.test:5000', 'm.example.test'], 'container:x'), [
      { registry: 'lab.example.test:5000', scheme: 'http', mirror: true },
      { registry: 'm.example.test', scheme: 'https', mirror: true },
      { registry: 'registry.example.test', scheme: 'https', mirror: false },
    ]);
  });
  it('refuses a mirror off the allow-list (POLICY_DENIED naming it)', () => {
    const policy = new RegistryPolicy({ allowRegistries: ['registry.example.test'], insecureRegistries: [] });
    assert.throws(
      () => sourcesOf(policy, upstream, ['m.example.test'], 'container:x'),
      (err: CamelOciError) => err.code === 'POLICY_DENIED' && err.message.includes('m.example.test'),
    );
  });
  it('refuses a plan mirror asking plain HTTP that --insecure-registry does not name', () => {
    const policy = new RegistryPolicy({ allowRegistries: [], insecureRegistries: ['other.example.test'] });
    assert.throws(
      () => sourcesOf(policy, upstream, [{ registry: 'm.example.test', scheme: 'http' }], 'container:x'),
      (err: CamelOciError) => err.code === 'POLICY_DENIED' && /plain HTTP/.test(err.message),
    );
  });
  it('drops duplicates and the upstream named as its own mirror', () => {
    const policy = new RegistryPolicy({ allowRegistries: [], insecureRegistries: [] });
    const got = sourcesOf(policy, upstream, ['m.example.test', 'registry.example.test', 'm.example.test'], 'container:x');
    assert.deepEqual(
      got.map((s) => s.registry),
      ['m.example.test', 'registry.example.test'],
    );
  });
});

const M1: RegistrySource = { registry: 'm1.example.test', scheme: 'https', mirror: true };
const M2: RegistrySource = { registry: 'm2.example.test', scheme: 'https', mirror: true };
const UP: RegistrySource = { registry: 'up.example.test', scheme: 'https', mirror: false };
const signal = new AbortController().signal;

describe('trySources', () => {
  it('returns the first answer and the source that gave it, reporting the failures before it', async () => {
    const seen: string[] = [];
    const got = await trySources(
      [M1, M2, UP],
      async (s) => {
        if (s === M1) throw new OciError('UNAVAILABLE', 'down', { retryable: true });
        return s.registry;
      },
      { signal, what: 'x', onFailure: (f) => seen.push(`${f.source.registry}:${f.error.code}`) },
    );
    assert.deepEqual(got, { value: 'm2.example.test', source: M2 });
    assert.deepEqual(seen, ['m1.example.test:UNAVAILABLE']);
  });
  it('when every source failed, a wrong-bytes failure names the code and the mirror', async () => {
    await assert.rejects(
      trySources(
        [M1, UP],
        async (s) => {
          throw s === M1 ? new OciError('DIGEST_MISMATCH', 'other bytes') : new OciError('UNAVAILABLE', 'refused', { retryable: true });
        },
        { signal, what: 'manifest sha256:ab' },
      ),
      (err: CamelOciError) =>
        err.code === 'DIGEST_MISMATCH' &&
        err.message.includes('mirror m1.example.test') &&
        err.message.includes('registry up.example.test'),
    );
  });
  it('stops at a policy refusal instead of trying the next source', async () => {
    let calls = 0;
    await assert.rejects(
      trySources(
        [M1, UP],
        async () => {
          calls++;
          throw new OciError('POLICY_DENIED', 'private address');
        },
        { signal, what: 'x' },
      ),
      (err: CamelOciError) => err.code === 'POLICY_DENIED',
    );
    assert.equal(calls, 1);
  });
  it('with one source throws its error unchanged', async () => {
    const original = new OciError('MANIFEST_UNKNOWN', 'no such manifest');
    await assert.rejects(
      trySources(
        [UP],
        async () => {
          throw original;
        },
        { signal, what: 'x' },
      ),
      (err) => err === original,
    );
  });
  it('everySourceFailed keeps the last (upstream) code when no bytes were wrong', () => {
    const err = everySourceFailed(
      [
        { source: M1, error: new OciError('MANIFEST_UNKNOWN', 'not here') },
        { source: UP, error: new OciError('UNAVAILABLE', 'refused', { retryable: true }) },
      ],
      'tag 1 of container:x',
    );
    assert.equal(err.code, 'UNAVAILABLE');
    assert.equal(err.retryable, true);
  });
});
