import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_LOG_FIELD_CHARS } from '../../src/base/logger.js';
import { logAdmission, requestLogFields } from '../../src/webhook/logger.js';
import { memoryLogger } from './support.js';

describe('logger', () => {
  it('writes one JSON line per admission with the fields an operator searches by', () => {
    const { logger, lines } = memoryLogger();
    logAdmission(logger, {
      uid: 'u-1',
      namespace: 'demo',
      integration: 'hello',
      operation: 'CREATE',
      outcome: 'patched',
      durationMs: 0.123456,
      references: 2,
    });
    assert.equal(lines.length, 1);
    const line = lines[0] ?? {};
    assert.equal(line.msg, 'admission');
    assert.equal(line.level, 'info');
    assert.equal(line.uid, 'u-1');
    assert.equal(line.namespace, 'demo');
    assert.equal(line.integration, 'hello');
    assert.equal(line.outcome, 'patched');
    assert.equal(line.references, 2);
    assert.equal(line.durationMs, 0.123);
    assert.equal(typeof line.time, 'string');
  });

  it('logs errored admissions at warn level', () => {
    const { logger, lines } = memoryLogger();
    logAdmission(logger, { uid: 'u', outcome: 'errored', durationMs: 1, references: 0 });
    assert.equal(lines[0]?.level, 'warn');
  });

  it('censors pull secrets and credentials that reach a log call by mistake', () => {
    const { logger, lines } = memoryLogger();
    const secret = '{"auths":{"r.example":{"auth":"dXNlcjpwYXNz"}}}';
    logger.info({ pullSecrets: [secret], req: { headers: { authorization: 'Bearer abc' } }, ctx: { password: 'p', token: 't' } }, 'x');
    const text = JSON.stringify(lines);
    for (const s of ['dXNlcjpwYXNz', 'Bearer abc', '"p"', '"t"']) assert.equal(text.includes(s), false, `${s} leaked`);
    assert.equal(lines[0]?.pullSecrets, '[redacted]');
  });
});

describe('requestLogFields', () => {
  it('reads namespace, integration label, operation and kind', () => {
    const f = requestLogFields({
      uid: 'u',
      namespace: 'demo',
      operation: 'CREATE',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      object: { metadata: { labels: { 'camel.apache.org/integration': 'hello' } } },
    });
    assert.deepEqual(f, { namespace: 'demo', integration: 'hello', operation: 'CREATE', kind: 'Pod' });
  });

  it('bounds absurd values and ignores ones of the wrong type (the object is not validated yet)', () => {
    const f = requestLogFields({
      uid: 'u',
      namespace: 'n'.repeat(100_000),
      operation: 42 as unknown as string,
      object: { metadata: { labels: { 'camel.apache.org/integration': 'i'.repeat(100_000) } } },
    });
    assert.ok((f.namespace?.length ?? 0) <= MAX_LOG_FIELD_CHARS + 3);
    assert.ok((f.integration?.length ?? 0) <= MAX_LOG_FIELD_CHARS + 3);
    assert.equal(f.operation, undefined);
    assert.deepEqual(requestLogFields({ uid: 'u', object: null }), {});
    assert.deepEqual(requestLogFields({ uid: 'u', object: { metadata: { labels: 'nope' } } }), {});
  });
});
