import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch, MAX_PATCH_OPS } from '../../src/inject/apply.js';
import { buildInjection, type JsonPatchOp } from '../../src/inject/patch.js';
import { isCamelOciError } from '../../src/base/errors.js';
import { fixtureJson } from '../helpers/fixtures.js';
import { applyIndependently, helloPod, knativePod, OPTIONS, twoArtifacts } from './support.js';

interface SuiteRecord {
  comment?: string;
  doc?: unknown;
  patch?: { op?: unknown }[];
  expected?: unknown;
  error?: string;
  disabled?: boolean;
}

const SUPPORTED = new Set(['add', 'replace', 'remove', 'test']);

/** Records of the RFC 6902 suite that use only the operations the applier supports. */
function records(file: string): { name: string; r: SuiteRecord }[] {
  return fixtureJson<SuiteRecord[]>(`json-patch-tests/${file}`)
    .map((r, i) => ({ name: `${file} #${i}: ${r.comment ?? r.error ?? 'no comment'}`, r }))
    .filter(({ r }) => r.disabled !== true && r.patch !== undefined && r.patch.every((op) => SUPPORTED.has(String(op.op))));
}

const suite = [...records('tests.json'), ...records('spec_tests.json')];

test('the RFC 6902 suite subset is substantial (guards against a filter that drops everything)', () => {
  assert.ok(suite.filter(({ r }) => r.error !== undefined).length >= 25);
  assert.ok(suite.filter(({ r }) => r.expected !== undefined).length >= 50);
});

for (const { name, r } of suite) {
  test(`RFC 6902 suite: ${name}`, () => {
    const input = structuredClone(r.doc);
    if (r.error !== undefined) {
      assert.throws(
        () => applyPatch(r.doc, r.patch as JsonPatchOp[]),
        (err) => isCamelOciError(err, 'INTERNAL'),
      );
    } else {
      const out = applyPatch(r.doc, r.patch as JsonPatchOp[]);
      if (r.expected !== undefined) assert.deepEqual(out, r.expected);
    }
    assert.deepEqual(r.doc, input, 'the input document is never modified');
  });
}

test("applies the builder's patches exactly as fast-json-patch does", () => {
  for (const pod of [helloPod(), knativePod(), { spec: { containers: [{ name: 'a', image: 'b' }] } }]) {
    const { ops } = buildInjection(pod, twoArtifacts(), OPTIONS);
    assert.deepEqual(applyPatch(pod, ops), applyIndependently(pod, ops));
  }
});

test('does not pollute Object.prototype through __proto__ paths', () => {
  const doc = JSON.parse('{"a":{}}');
  assert.throws(
    () => applyPatch(doc, [{ op: 'add', path: '/__proto__/polluted', value: true }]),
    (err) => isCamelOciError(err, 'INTERNAL'),
  );
  const out = applyPatch(doc, [{ op: 'add', path: '/a/__proto__', value: { polluted: true } }]) as { a: Record<string, unknown> };
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(out.a), ['__proto__'], 'stored as an own member, not as the prototype');
  assert.equal(Object.getPrototypeOf(out.a), Object.prototype);
});

test('is all or nothing, and names the failing operation', () => {
  const doc = { a: [1] };
  assert.throws(
    () =>
      applyPatch(doc, [
        { op: 'add', path: '/a/-', value: 2 },
        { op: 'replace', path: '/missing', value: 3 },
      ]),
    (err: unknown) => isCamelOciError(err, 'INTERNAL') && /operation 1 \(replace "\/missing"\)/.test(err.message),
  );
  assert.deepEqual(doc, { a: [1] });
});

const ownErrors: { name: string; doc: unknown; ops: unknown[] }[] = [
  { name: 'move is not applied', doc: { a: 1 }, ops: [{ op: 'move', from: '/a', path: '/b' }] },
  { name: 'copy is not applied', doc: { a: 1 }, ops: [{ op: 'copy', from: '/a', path: '/b' }] },
  { name: 'replace past the end of an array', doc: { a: [1] }, ops: [{ op: 'replace', path: '/a/1', value: 2 }] },
  { name: 'replace with "-"', doc: { a: [1] }, ops: [{ op: 'replace', path: '/a/-', value: 2 }] },
  { name: 'add into a string', doc: { a: 'x' }, ops: [{ op: 'add', path: '/a/b', value: 2 }] },
  { name: 'add into null', doc: { a: null }, ops: [{ op: 'add', path: '/a/b', value: 2 }] },
  { name: 'bad escape', doc: { a: 1 }, ops: [{ op: 'add', path: '/a~2', value: 2 }] },
  { name: 'an operation that is not an object', doc: {}, ops: ['add'] },
  { name: 'remove the whole document', doc: {}, ops: [{ op: 'remove', path: '' }] },
];

for (const c of ownErrors) {
  test(`refuses: ${c.name}`, () => {
    assert.throws(
      () => applyPatch(c.doc, c.ops as JsonPatchOp[]),
      (err) => isCamelOciError(err, 'INTERNAL'),
    );
  });
}

test('refuses more than MAX_PATCH_OPS operations and a non-array patch', () => {
  const ops = Array.from({ length: MAX_PATCH_OPS + 1 }, () => ({ op: 'test' as const, path: '', value: {} }));
  assert.throws(
    () => applyPatch({}, ops),
    (err) => isCamelOciError(err, 'INTERNAL'),
  );
  assert.throws(
    () => applyPatch({}, {} as unknown as JsonPatchOp[]),
    (err) => isCamelOciError(err, 'INTERNAL'),
  );
});

test('escaped keys round-trip (~0 and ~1)', () => {
  const out = applyPatch({ m: {} }, [{ op: 'add', path: '/m/a~1b~0c', value: 1 }]);
  assert.deepEqual(out, { m: { 'a/b~c': 1 } });
});
