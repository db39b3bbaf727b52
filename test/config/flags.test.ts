import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envName, formatSize, parseCount, parseDuration, parseFlags, parseSize } from '../../src/config/flags.js';
import type { FlagTable } from '../../src/config/flags.js';
import { DEFAULT_FETCH_TIMEOUT, DEFAULT_VOLUME_SIZE_LIMIT } from '../../src/config/defaults.js';
import { CERTS_FLAGS, FETCH_FLAGS, INJECT_FLAGS, RESOLVE_FLAGS, SERVE_FLAGS } from '../../src/config/tables.js';
import { MAX_LAYER_BYTES, MAX_UNPACKED_BYTES } from '../../src/fetch/limits.js';
import { DEFAULT_VOLUME_SIZE_LIMIT as INJECT_DEFAULT_VOLUME_SIZE_LIMIT } from '../../src/inject/options.js';
import { PULL_SECRETS_MOUNT_PATH } from '../../src/plan/env.js';
import { assertConfigInvalid } from './support.js';

const TABLE: FlagTable = {
  name: { type: 'string', default: 'dflt', description: 'a string' },
  list: { type: 'list', description: 'a list' },
  on: { type: 'boolean', description: 'a switch' },
  plan: { type: 'string', noEnv: true, description: 'no variable' },
};

test('envName follows the CAMEL_OCI_<FLAG> rule', () => {
  assert.equal(envName('insecure-registry'), 'CAMEL_OCI_INSECURE_REGISTRY');
  assert.equal(envName('port'), 'CAMEL_OCI_PORT');
});

test('precedence: flag, then variable, then default; an empty variable is unset', () => {
  const env = { CAMEL_OCI_NAME: 'from-env', CAMEL_OCI_LIST: 'a, b,,c', CAMEL_OCI_ON: 'yes', CAMEL_OCI_PLAN: 'ignored' };
  const fromEnv = parseFlags('x', TABLE, [], env, true);
  assert.deepEqual(fromEnv.values, { name: 'from-env', list: ['a', 'b', 'c'], on: true, plan: undefined });
  const fromFlags = parseFlags('x', TABLE, ['--name', 'flag', '--list', 'x,y', '--list', 'z'], env, true);
  assert.equal(fromFlags.values.name, 'flag');
  assert.deepEqual(fromFlags.values.list, ['x', 'y', 'z']);
  assert.equal(parseFlags('x', TABLE, [], { CAMEL_OCI_NAME: '' }, true).values.name, 'dflt');
  assert.equal(parseFlags('x', TABLE, [], env, false).values.name, 'dflt', 'commands without variables ignore them');
  assert.equal(parseFlags('x', TABLE, [], { CAMEL_OCI_ON: 'off' }, true).values.on, false);
  assert.equal(parseFlags('x', TABLE, [], { CAMEL_OCI_ON: ' TRUE ' }, true).values.on, true);
  assert.equal(parseFlags('x', TABLE, [], { CAMEL_OCI_ON: '' }, true).values.on, false, 'empty is unset: the default');
});

test('a boolean variable that is no boolean is CONFIG_INVALID naming it, not a silent false', () => {
  for (const bad of ['maybe', 'enabled', '2'])
    assertConfigInvalid(() => parseFlags('x', TABLE, [], { CAMEL_OCI_ON: bad }, true), /^CAMEL_OCI_ON: ".*" is not a boolean/);
  assert.equal(parseFlags('x', TABLE, ['--on'], { CAMEL_OCI_ON: 'maybe' }, true).values.on, true, 'the flag wins, the variable unread');
});

test('an unknown flag is CONFIG_INVALID naming the command', () => {
  assertConfigInvalid(() => parseFlags('serve', TABLE, ['--nope'], {}, true), /camel-oci serve: .*--nope.*see camel-oci serve --help/);
});

test('parsed values are frozen', () => {
  const parsed = parseFlags('x', TABLE, ['--list', 'a'], {}, true);
  assert.ok(Object.isFrozen(parsed) && Object.isFrozen(parsed.values) && Object.isFrozen(parsed.values.list));
});

test('durations, sizes and counts, and their errors', () => {
  assert.equal(parseDuration('500ms', 't'), 500);
  assert.equal(parseDuration('60s', 't'), 60_000);
  assert.equal(parseDuration('2m', 't'), 120_000);
  assert.equal(parseDuration('1h', 't'), 3_600_000);
  assert.equal(parseDuration('20', 't'), 20_000);
  assertConfigInvalid(() => parseDuration('soon', 'fetch-timeout'), /^--fetch-timeout: "soon" is not a duration/);
  assert.equal(parseSize('512Mi', 's'), 512 * 1024 ** 2);
  assert.equal(parseSize('1G', 's'), 1e9);
  assert.equal(parseSize('100', 's'), 100);
  assertConfigInvalid(() => parseSize('1.5Gi', 'max-layer-bytes'), /^--max-layer-bytes: "1.5Gi" is not a size/);
  assert.equal(parseCount('32', 'parallel', 32), 32);
  for (const bad of ['0', '33', '-1', '1.5', 'x'])
    assertConfigInvalid(() => parseCount(bad, 'parallel', 32), /^--parallel: .* must be a whole number from 1 to 32$/);
});

test('formatSize writes what parseSize reads, in the largest binary unit', () => {
  const cases: [number, string][] = [
    [1024 ** 3, '1Gi'],
    [512 * 1024 ** 2, '512Mi'],
    [3 * 1024, '3Ki'],
    [1000, '1000'],
    [0, '0'],
  ];
  for (const [bytes, text] of cases) {
    assert.equal(formatSize(bytes), text);
    assert.equal(parseSize(text, 'x'), bytes);
  }
});

test('defaults written once: the tables take them from the named constants', () => {
  assert.equal(SERVE_FLAGS['fetch-timeout']!.default, DEFAULT_FETCH_TIMEOUT);
  assert.equal(INJECT_FLAGS['fetch-timeout']!.default, DEFAULT_FETCH_TIMEOUT);
  assert.equal(FETCH_FLAGS.timeout!.default, DEFAULT_FETCH_TIMEOUT, 'the fetcher and the webhook agree on its deadline');
  assert.equal(SERVE_FLAGS['volume-size-limit']!.default, DEFAULT_VOLUME_SIZE_LIMIT);
  assert.equal(INJECT_FLAGS['volume-size-limit']!.default, DEFAULT_VOLUME_SIZE_LIMIT);
  assert.equal(INJECT_DEFAULT_VOLUME_SIZE_LIMIT, DEFAULT_VOLUME_SIZE_LIMIT, 'the patch builder uses the same floor');
  assert.equal(FETCH_FLAGS['pull-secrets-dir']!.default, PULL_SECRETS_MOUNT_PATH, 'where the webhook mounts the pull secrets');
  assert.equal(parseSize(String(FETCH_FLAGS['max-unpacked-bytes']!.default), 'x'), MAX_UNPACKED_BYTES);
  assert.equal(parseSize(String(FETCH_FLAGS['max-layer-bytes']!.default), 'x'), MAX_LAYER_BYTES);
  assert.equal(FETCH_FLAGS['max-unpacked-bytes']!.default, '1Gi', 'the documented text');
  assert.equal(FETCH_FLAGS['max-layer-bytes']!.default, '512Mi', 'the documented text');
  for (const table of [SERVE_FLAGS, FETCH_FLAGS, RESOLVE_FLAGS, INJECT_FLAGS, CERTS_FLAGS]) {
    for (const [name, spec] of Object.entries(table)) assert.ok(spec.description.length > 0, `--${name} has help text`);
  }
});
