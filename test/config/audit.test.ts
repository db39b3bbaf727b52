import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadAuditConfig } from '../../src/config/audit.js';
import { assertConfigInvalid, assertDeepFrozen, flagsOf } from './support.js';

const load = (argv: string[]) => loadAuditConfig(flagsOf('audit', argv));

describe('loadAuditConfig', () => {
  it('has the documented defaults, frozen; --check-tags never reuses or goes stale', () => {
    const c = load([]);
    assert.equal(c.namespace, undefined);
    assert.equal(c.all, false);
    assert.equal(c.output, 'table');
    assert.equal(c.requestTimeoutMs, 15_000);
    assert.equal(c.timeoutMs, 120_000);
    assert.equal(c.resolver.tagTtlMs, 0);
    assert.equal(c.resolver.staleGraceMs, 0);
    assertDeepFrozen(c);
    assert.equal(load(['-n', 'team-a', '-o', 'json']).namespace, 'team-a');
    assert.equal(load(['-A']).all, true);
  });

  it('refuses arguments, -n with -A, a bad namespace, a bad output and a bad platform with --check-tags', () => {
    assertConfigInvalid(() => load(['team-a']), /takes no arguments/);
    assertConfigInvalid(() => load(['-n', 'a', '-A']), /not both/);
    assertConfigInvalid(() => load(['-n', 'Team_A']), /not a namespace name/);
    assertConfigInvalid(() => load(['-o', 'yaml']), /table or json/);
    assert.throws(() => load(['--check-tags', '--platform', 'nope']), /platform/);
    assert.equal(load(['--platform', 'nope']).checkTags, false, 'the platform matters only with --check-tags');
  });
});
