/** The resolved artifact: renaming a cached (frozen) artifact for the reference a pod asked by. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withReference, type ResolvedArtifact } from '../../src/plan/artifact.js';
import { artifact } from '../inject/support.js';

/** The inject tests' synthetic artifact, naming `reference`. */
const named = (reference: string): ResolvedArtifact => artifact({ reference });

describe('withReference', () => {
  it('returns the artifact itself when it already names the reference', () => {
    const a = Object.freeze(named('registry.example.com/acme/deps:1'));
    assert.equal(withReference(a, 'registry.example.com/acme/deps:1'), a);
  });

  it('keeps one frozen copy per frozen artifact, and makes a new one for another name', () => {
    const a = Object.freeze(named('registry.example.com/acme/deps:1'));
    const pinned = withReference(a, 'registry.example.com/acme/deps:1@sha256:' + 'f'.repeat(64));
    assert.ok(Object.isFrozen(pinned));
    assert.equal(pinned.reference, 'registry.example.com/acme/deps:1@sha256:' + 'f'.repeat(64));
    assert.deepEqual({ ...pinned, reference: a.reference }, { ...a });
    assert.equal(withReference(a, pinned.reference), pinned, 'the same copy again');
    const other = withReference(a, 'registry.example.com/acme/deps:other');
    assert.notEqual(other, pinned);
    assert.equal(other.reference, 'registry.example.com/acme/deps:other');
    assert.equal(pinned.reference, 'registry.example.com/acme/deps:1@sha256:' + 'f'.repeat(64), 'copies are never changed');
  });

  it('copies an artifact that is not frozen afresh each time, unfrozen (nothing keeps it)', () => {
    const a = named('x:1');
    const b = withReference(a, 'x:2');
    assert.equal(Object.isFrozen(b), false);
    assert.notEqual(withReference(a, 'x:2'), b);
    assert.equal(a.reference, 'x:1');
  });
});
