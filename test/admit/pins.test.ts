import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OwnerPins, ownerUid, parsePins, pinEach, pinnedRequests } from '../../src/admit/pins.js';
import { ANNOTATION_PINNED } from '../../src/inject/annotations.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const pinsOf = (text: string): Map<string, string> => parsePins({ [ANNOTATION_PINNED]: text });

describe('parsePins and pinnedRequests', () => {
  it('pins every reference the annotation covers, matching names as docker normalizes them', () => {
    const pins = pinsOf(`docker.io/acme/deps:1.0@${D1}, 127.0.0.1:5000/acme/kamelets:2@${D2}`);
    assert.deepEqual(pinnedRequests(['container:acme/deps:1.0', '127.0.0.1:5000/acme/kamelets:2'], pins), [
      `acme/deps:1.0@${D1}`,
      `127.0.0.1:5000/acme/kamelets:2@${D2}`,
    ]);
  });

  it('gives nothing when one reference has no pin (the pod resolves as before)', () => {
    assert.equal(pinnedRequests(['acme/deps:1.0', 'acme/other:1'], pinsOf(`acme/deps:1.0@${D1}`)), undefined);
  });

  it('never pins a reference to another tag of the same repository', () => {
    assert.equal(pinnedRequests(['acme/deps:2.0'], pinsOf(`acme/deps:1.0@${D1}`)), undefined);
  });

  it('treats a missing tag as latest on both sides', () => {
    assert.deepEqual(pinnedRequests(['acme/deps'], pinsOf(`acme/deps:latest@${D1}`)), [`acme/deps@${D1}`]);
  });

  it('ignores entries that are not pinned references, and an oversized annotation', () => {
    assert.equal(pinsOf(`acme/deps:1.0, not a ref!!, acme/x:1@sha256:short`).size, 0);
    assert.equal(pinsOf(`acme/deps:1.0@${D1},${' '.repeat(200_000)}`).size, 0);
    assert.equal(parsePins({ [ANNOTATION_PINNED]: 42 }).size, 0);
    assert.equal(parsePins(undefined).size, 0);
  });

  it('keeps a digest the user wrote', () => {
    assert.deepEqual(pinnedRequests([`acme/deps@${D2}`], pinsOf(`acme/deps@${D2}@${D2}`)) ?? [`acme/deps@${D2}`], [`acme/deps@${D2}`]);
  });
});

describe('OwnerPins and pinEach', () => {
  it('hands later pods of one owner the digests the first one was admitted at, reference by reference', () => {
    const owners = new OwnerPins();
    owners.remember('uid-1', ['acme/deps:1.0'], [D1]);
    assert.deepEqual(pinEach(['acme/deps:1.0', 'acme/new:1'], owners.get('uid-1')), [`acme/deps:1.0@${D1}`, 'acme/new:1']);
    assert.deepEqual(pinEach(['acme/deps:1.0'], owners.get('uid-2')), ['acme/deps:1.0']);
  });

  it('reads the controlling owner uid, else the first', () => {
    const pod = (refs: unknown) => ({ metadata: { ownerReferences: refs } });
    assert.equal(ownerUid(pod([{ uid: 'a' }, { uid: 'b', controller: true }])), 'b');
    assert.equal(ownerUid(pod([{ uid: 'a' }])), 'a');
    assert.equal(ownerUid(pod('nope')), undefined);
    assert.equal(ownerUid(pod([{ uid: 'x'.repeat(200) }])), undefined);
    assert.equal(ownerUid({}), undefined);
  });
});
