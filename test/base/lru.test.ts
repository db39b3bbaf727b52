/** The bounded LRU map behind the token, challenge, tag and manifest caches. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LruCache } from '../../src/base/lru.js';

describe('LruCache', () => {
  it('never holds more than its bound, evicting the least recently used', () => {
    const lru = new LruCache<string, number>(3);
    for (const [i, k] of ['a', 'b', 'c'].entries()) lru.set(k, i);
    assert.equal(lru.get('a'), 0); // a is now the most recent
    lru.set('d', 3);
    assert.equal(lru.size, 3);
    assert.equal(lru.get('b'), undefined, 'b was the least recently used');
    assert.equal(lru.get('a'), 0);
    for (let i = 0; i < 10_000; i++) lru.set(`k${i}`, i);
    assert.equal(lru.size, 3);
    lru.delete('k9999');
    assert.equal(lru.get('k9999'), undefined);
    assert.equal(lru.size, 2);
  });
});
