/** fetch/sources.ts: the sources of one blob across download attempts. No server needed. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CamelOciError, OciError } from '../../src/base/errors.js';
import type { RegistrySource } from '../../src/registry/mirrors.js';
import { BlobSources, withCredential } from '../../src/fetch/sources.js';

const M1: RegistrySource = { registry: 'm1.example.test', scheme: 'https', mirror: true };
const UP: RegistrySource = { registry: 'up.example.test', scheme: 'https', mirror: false };

describe('BlobSources (the fetcher, per blob)', () => {
  const sources = [M1, UP].map((s) => withCredential(s, 'acme/deps', () => undefined));
  const retryable = (e: unknown): boolean => e instanceof CamelOciError && e.retryable && e.code !== 'DIGEST_MISMATCH';
  it('hands a blob to the next source, and drops a source that served wrong bytes from later rounds', () => {
    const blobs = new BlobSources(sources, 'blob sha256:ab');
    assert.equal(blobs.current.registry, M1.registry);
    assert.deepEqual(blobs.failed(new OciError('DIGEST_MISMATCH', 'wrong'), retryable), { next: 'source' });
    assert.equal(blobs.current.registry, UP.registry);
    assert.deepEqual(blobs.failed(new OciError('UNAVAILABLE', 'reset', { retryable: true }), retryable), { next: 'again' });
    assert.equal(blobs.current.registry, UP.registry, 'the mirror that served wrong bytes is not asked again');
    const step = blobs.failed(new OciError('UNAVAILABLE', 'reset', { retryable: true }), () => false);
    assert.ok('error' in step);
    const err = step.error as CamelOciError;
    assert.equal(err.code, 'DIGEST_MISMATCH');
    assert.match(err.message, /mirror m1\.example\.test/);
  });
  it('with one source keeps the single-registry rule exactly', () => {
    const blobs = new BlobSources([sources[1]!], 'blob sha256:ab');
    const wrong = new OciError('DIGEST_MISMATCH', 'wrong');
    assert.deepEqual(blobs.failed(wrong, retryable), { error: wrong });
    const down = new OciError('UNAVAILABLE', 'reset', { retryable: true });
    assert.deepEqual(blobs.failed(down, retryable), { next: 'again' });
  });
});
