import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetcherSizeText, formatMebibytes, parseQuantity } from '../../src/inject/quantity.js';

const quantities: { text: string; value: number | undefined }[] = [
  { text: '512Mi', value: 512 * 2 ** 20 },
  { text: '1Gi', value: 2 ** 30 },
  { text: '100m', value: 0.1 },
  { text: '1', value: 1 },
  { text: '1.5', value: 1.5 },
  { text: '.5', value: 0.5 },
  { text: '2k', value: 2000 },
  { text: '1M', value: 1e6 },
  { text: '1e3', value: 1000 },
  { text: '1E', value: 1e18 },
  { text: '+1Ki', value: 1024 },
  { text: '', value: undefined },
  { text: '-1', value: undefined },
  { text: 'Mi', value: undefined },
  { text: '1 Mi', value: undefined },
  { text: '1MiB', value: undefined },
  { text: '1mi', value: undefined },
  { text: '1'.repeat(100), value: undefined },
];

for (const q of quantities) {
  test(`parseQuantity(${JSON.stringify(q.text.slice(0, 12))})`, () => {
    assert.equal(parseQuantity(q.text), q.value);
  });
}

test('formatMebibytes rounds up to whole mebibytes, at least 1', () => {
  assert.equal(formatMebibytes(2 ** 20), '1Mi');
  assert.equal(formatMebibytes(2 ** 20 + 1), '2Mi');
  assert.equal(formatMebibytes(0), '1Mi');
});

const fetcherSizes: { text: string; out: string | undefined }[] = [
  { text: '512Mi', out: '512Mi' },
  { text: '1Gi', out: '1Gi' },
  { text: '64Ki', out: '64Ki' },
  { text: '1048576', out: '1048576' },
  { text: '1G', out: '1000000000' },
  { text: '1M', out: '1000000' },
  { text: '2k', out: '2000' },
  { text: '1Ti', out: String(2 ** 40) },
  { text: '+1Gi', out: String(2 ** 30) },
  { text: '0.5Gi', out: String(2 ** 29) },
  { text: '1.5', out: '1' },
  { text: '1e21', out: '1000000000000000000000' },
  { text: 'lots', out: undefined },
];

for (const c of fetcherSizes) {
  test(`fetcherSizeText(${JSON.stringify(c.text)}) is what the fetcher's size flag reads as the same bytes, never more`, () => {
    assert.equal(fetcherSizeText(c.text), c.out);
    if (c.out !== undefined) assert.ok(/^\d+(?:Ki|Mi|Gi)?$/.test(c.out), 'only digits and the binary suffixes the fetcher reads');
  });
}
