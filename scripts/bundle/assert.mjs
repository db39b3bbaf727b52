/**
 * What the fetch bundle gets for `assert` / `node:assert` (scripts/bundle.mjs). Its one user
 * there is minizlib, which tar's parser imports, and which asserts that a zlib handle is still
 * open. Node's assert module loads six more internal modules (its diffing, call tracker, colours)
 * for that; this is the same check, failing with an Error of the same code.
 */
export default function assert(value, message) {
  if (!value) throw Object.assign(new Error(message ?? 'assertion failed'), { code: 'ERR_ASSERTION' });
}
assert.ok = assert;
