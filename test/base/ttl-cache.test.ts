import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TtlCache } from '../../src/base/ttl-cache.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('an entry lives for the TTL, then is gone', () => {
  const c = clock();
  const cache = new TtlCache<string>(100, 10, 1000, c.now);
  cache.set('a', 'x', 1);
  c.advance(99);
  assert.equal(cache.get('a'), 'x');
  c.advance(1);
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.size, 0, 'an expired entry read is dropped');
});

test('bounded by entries and by bytes: the oldest go first; an entry over the byte bound is not kept', () => {
  const c = clock();
  const cache = new TtlCache<string>(1_000, 2, 10, c.now);
  cache.set('a', 'a', 4);
  cache.set('b', 'b', 4);
  cache.set('c', 'c', 4);
  assert.equal(cache.get('a'), undefined, 'entry bound');
  assert.deepEqual([cache.get('b'), cache.get('c')], ['b', 'c']);
  cache.set('d', 'd', 9);
  assert.equal(cache.get('b'), undefined, 'byte bound');
  assert.equal(cache.get('c'), undefined, 'byte bound');
  assert.equal(cache.heldBytes, 9);
  cache.set('big', 'big', 11);
  assert.equal(cache.get('big'), undefined);
  assert.equal(cache.get('d'), 'd', 'a refused entry evicts nothing');
});

test('replacing a key counts its bytes once; a TTL of 0 caches nothing', () => {
  const cache = new TtlCache<string>(1_000, 10, 10);
  cache.set('a', 'x', 6);
  cache.set('a', 'y', 6);
  assert.equal(cache.heldBytes, 6);
  assert.equal(cache.get('a'), 'y');
  const off = new TtlCache<string>(0, 10, 10);
  off.set('a', 'x', 1);
  assert.equal(off.get('a'), undefined);
});
