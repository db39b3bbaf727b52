import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPushConfig } from '../../src/config/push.js';
import { assertConfigInvalid, assertDeepFrozen, flagsOf } from './support.js';

const load = (argv: string[]) => loadPushConfig(flagsOf('push', argv));

describe('loadPushConfig', () => {
  it('has the documented defaults, frozen, and takes the tag from the reference (latest when none)', () => {
    const c = load(['registry.example.com/acme/deps:1.0', '--dependency', 'a.jar', '--dependency', 'lib,more', '--kamelets', 'k']);
    assert.equal(c.target.domain, 'registry.example.com');
    assert.equal(c.tag, '1.0');
    assert.deepEqual(c.dependencies, ['a.jar', 'lib', 'more']);
    assert.deepEqual(c.kamelets, ['k']);
    assert.equal(c.parallel, 3);
    assert.equal(c.timeoutMs, 600_000);
    assert.deepEqual([c.platform.os, c.platform.architecture], ['linux', 'amd64']);
    assert.equal(c.ociLayout, undefined);
    assertDeepFrozen(c);
    assert.equal(load(['acme/deps']).tag, 'latest');
  });

  it('refuses no reference, two references, a digest, and a --mount-from with a tag or that is not a repository', () => {
    assertConfigInvalid(() => load([]), /give exactly one reference/);
    assertConfigInvalid(() => load(['a/b:1', 'c/d:2']), /give exactly one reference/);
    assertConfigInvalid(() => load([`acme/deps@sha256:${'a'.repeat(64)}`]), /push to a tag, not a digest/);
    assertConfigInvalid(() => load(['r.example/acme/deps:1', '--mount-from', 'acme/base:1']), /--mount-from/);
    assertConfigInvalid(() => load(['r.example/acme/deps:1', '--mount-from', 'Acme/Base']), /--mount-from/);
    assert.equal(load(['r.example/acme/deps:1', '--mount-from', 'acme/base']).mountFrom, 'acme/base');
  });

  it('refuses a bad --parallel, --timeout and --platform', () => {
    assertConfigInvalid(() => load(['acme/deps:1', '--parallel', '0']), /--parallel/);
    assertConfigInvalid(() => load(['acme/deps:1', '--parallel', '17']), /--parallel/);
    assertConfigInvalid(() => load(['acme/deps:1', '--timeout', 'soon']), /--timeout/);
    assert.throws(() => load(['acme/deps:1', '--platform', 'linux']), /platform/);
  });
});
