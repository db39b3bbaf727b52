import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README, renderFlagTables, withFlagTables } from './flag-tables.js';

test('the README flag tables are the ones the flag tables generate (run npm run docs:flags)', () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(readme, withFlagTables(readme), 'README.md is out of date: run npm run docs:flags');
});

test('every flag of every command is in the generated tables, with its variable where the command reads them', () => {
  const text = renderFlagTables();
  assert.match(text, /\| `--port` \| `CAMEL_OCI_PORT` \| `8443` \| HTTPS port \|/);
  assert.match(text, /\| `--plan` \| \(none: `CAMEL_OCI_PLAN` holds the plan itself\) \| {2}\|/);
  assert.match(text, /\| `--filename` \/ `-f` \| {2}\| YAML file to inject/);
  assert.match(text, /\| `--on-error` \| `CAMEL_OCI_ON_ERROR` \| `deny` \| deny \\\| allow: /, 'pipes escaped');
});

test('a README without the markers is refused', () => {
  assert.throws(() => withFlagTables('# no markers\n'), /has no <!-- flags:begin/);
});
