import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRecord } from '../../src/base/json.js';

test('isRecord is true for plain objects only', () => {
  for (const yes of [{}, { a: 1 }, Object.create(null)]) assert.equal(isRecord(yes), true);
  for (const no of [null, undefined, [], [1], 'x', 1, true]) assert.equal(isRecord(no), false, JSON.stringify(no));
});
