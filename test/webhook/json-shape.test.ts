import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonShapeProblem, MAX_JSON_DEPTH, MAX_JSON_VALUES } from '../../src/webhook/json-shape.js';

const shape = (text: string, depth?: number, values?: number) => jsonShapeProblem(Buffer.from(text), depth, values);

describe('jsonShapeProblem', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    assert.equal(shape('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)), undefined);
    assert.match(shape('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1)) ?? '', /nested deeper than 128/);
    assert.match(shape('{"a":'.repeat(200) + '1' + '}'.repeat(200)) ?? '', /nested deeper/);
  });

  it('counts values and keys, and refuses past the limit', () => {
    assert.equal(shape(`[${Array(10).fill('1').join(',')}]`, 10, 10), undefined);
    assert.match(shape(`[${Array(11).fill('1').join(',')}]`, 10, 10) ?? '', /more than 10 values/);
    assert.match(shape(`{${Array.from({ length: 6 }, (_, i) => `"k${i}":1`).join(',')}}`, 10, 10) ?? '', /more than 10 values/);
    assert.match(
      shape(
        `[${Array(MAX_JSON_VALUES + 1)
          .fill('0')
          .join(',')}]`,
      ) ?? '',
      new RegExp(`more than ${MAX_JSON_VALUES} values`),
    );
  });

  it('ignores brackets, commas and colons inside strings, escaped quotes included', () => {
    const inside = `"${'[{,:'.repeat(1000)}\\"${'[['.repeat(500)}"`;
    assert.equal(shape(`{"a":${inside}}`, 4, 4), undefined);
  });

  it('leaves malformed JSON to the parser', () => {
    assert.equal(shape('{"a": }}}]]'), undefined);
  });
});
