/** Deep freezing of parsed JSON, and telling a deeply frozen value from a shallowly frozen one. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze, isDeepFrozen } from '../../src/base/frozen.js';

describe('deepFreeze', () => {
  it('freezes every object and array of a parsed value, and knows the root and every member as deeply frozen', () => {
    const value = JSON.parse('{"a":{"b":[{"c":1},[2]]},"d":"x","e":null}') as any;
    assert.equal(deepFreeze(value), value);
    for (const v of [value, value.a, value.a.b, value.a.b[0], value.a.b[1]]) {
      assert.ok(Object.isFrozen(v));
      assert.ok(isDeepFrozen(v));
    }
    assert.throws(() => {
      'use strict';
      value.a.b[0].c = 2;
    }, TypeError);
  });

  it('a shallowly frozen object, or one never frozen, is not deeply frozen', () => {
    const shallow = Object.freeze({ inner: { n: 1 } });
    assert.equal(isDeepFrozen(shallow), false);
    assert.equal(isDeepFrozen({}), false);
    assert.equal(isDeepFrozen('text'), false);
    assert.equal(isDeepFrozen(null), false);
    // Freezing it deeply afterwards reaches what the shallow freeze left open.
    deepFreeze(shallow);
    assert.ok(Object.isFrozen(shallow.inner) && isDeepFrozen(shallow) && isDeepFrozen(shallow.inner));
  });

  it('leaves primitives as they are', () => {
    assert.equal(deepFreeze(3), 3);
    assert.equal(deepFreeze(null), null);
  });
});
