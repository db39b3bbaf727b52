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

  it('a hit on the most recent entry keeps the order; eviction still takes the least recently used', () => {
    const lru = new LruCache<string, number>(3);
    lru.set('a', 0);
    lru.set('b', 1);
    lru.set('c', 2);
    assert.equal(lru.get('c'), 2); // already the most recent: not moved
    assert.equal(lru.get('c'), 2);
    assert.equal(lru.get('a'), 0); // a moves after c
    assert.equal(lru.get('a'), 0);
    lru.set('d', 3); // evicts b
    assert.equal(lru.get('b'), undefined);
    lru.set('e', 4); // evicts c
    assert.equal(lru.get('c'), undefined);
    assert.deepEqual(
      ['a', 'd', 'e'].map((k) => lru.get(k)),
      [0, 3, 4],
    );
  });

  it('forgets the most recent key when it is deleted or evicted', () => {
    const lru = new LruCache<string, number>(2);
    lru.set('a', 0);
    lru.set('b', 1);
    lru.delete('b');
    lru.set('c', 2);
    assert.equal(lru.get('a'), 0); // a is the most recent now
    lru.set('d', 3); // evicts c
    assert.equal(lru.get('c'), undefined);
    assert.equal(lru.get('a'), 0);
    const none = new LruCache<string, number>(0);
    none.set('x', 1);
    assert.equal(none.size, 0);
    assert.equal(none.get('x'), undefined);
    none.set('x', 2);
    assert.equal(none.get('x'), undefined);
  });
});
