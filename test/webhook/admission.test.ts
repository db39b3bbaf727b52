import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureJson } from '../helpers/fixtures.js';
import {
  MAX_AUDIT_VALUE_CHARS,
  MAX_WARNINGS,
  MAX_WARNING_CHARS,
  boundWarnings,
  complete,
  encodePatch,
  parseAdmissionReview,
} from '../../src/webhook/admission.js';
import {
  allowed,
  denied,
  errored,
  outcomeOf,
  patched,
  skipped,
  type AdmissionResult,
  type JsonPatchOperation,
} from '../../src/admit/result.js';
import { CamelOciError } from '../../src/base/errors.js';
import { verifyAdmissionResponse } from './apiserver-verify.js';

interface VerifyCase {
  name: string;
  uid: string;
  mutating: boolean;
  reviewVersion: 'v1' | 'v1beta1';
  wireResponseBody: unknown;
  expect: {
    error?: string;
    allowed?: boolean;
    patch?: string;
    patchType?: string;
    auditAnnotations?: Record<string, string>;
    status?: unknown;
  };
}
const vectors = fixtureJson<{ patchBase64: { decoded: string; base64: string }; cases: VerifyCase[] }>(
  'admission-review/apiserver-verify-admission-response-vectors.json',
);
const docs = fixtureJson<Record<string, { response: Record<string, unknown> }> & { allowWithJSONPatch_decodedPatchText: string }>(
  'admission-review/k8s-docs-response-examples.json',
);

describe('apiserver response verifier (test model)', () => {
  // Only v1 is spoken by this webhook; v1beta1 leniency is irrelevant to it.
  const v1Cases = vectors.cases.filter((c) => c.reviewVersion === 'v1');
  it('covers the upstream v1 vectors', () => assert.ok(v1Cases.length >= 15));
  for (const c of v1Cases) {
    it(`agrees with upstream: ${c.name}`, () => {
      const verdict = verifyAdmissionResponse(c.uid, c.mutating, c.wireResponseBody);
      if (c.expect.error !== undefined) {
        assert.ok(verdict.error !== undefined, `expected an error containing ${c.expect.error}`);
        assert.ok(verdict.error.includes(c.expect.error), `${verdict.error} does not contain ${c.expect.error}`);
      } else {
        assert.equal(verdict.error, undefined);
        assert.ok(verdict.error === undefined);
        assert.equal(verdict.allowed, c.expect.allowed);
        assert.equal(verdict.patch, c.expect.patch);
        assert.equal(verdict.patchType, c.expect.patchType);
        assert.deepEqual(verdict.auditAnnotations, c.expect.auditAnnotations);
        assert.deepEqual(verdict.status, c.expect.status);
      }
    });
  }
});

const OPS: JsonPatchOperation[] = [
  { op: 'add', path: '/metadata/annotations/camel.apache.org~1x', value: '{"a":1}' },
  { op: 'add', path: '/spec/initContainers', value: [{ name: 'camel-oci-fetch', image: 'x' }] },
];

const resultsTheApiserverMustAccept: Array<[string, AdmissionResult]> = [
  ['allowed', allowed()],
  ['allowed with warnings', allowed(['one', 'two'])],
  ['skipped', skipped('not a pod')],
  ['patched', patched(OPS, ['w'])],
  ['patched without ops', patched([])],
  ['denied', denied('camel-oci: nope')],
  ['denied 504', denied('camel-oci: too slow', 504)],
  ['errored', errored(500, new Error('boom'))],
];

describe('complete', () => {
  for (const [name, result] of resultsTheApiserverMustAccept) {
    it(`answers in a form the apiserver accepts from a mutating webhook: ${name}`, () => {
      const uid = 'b6e0e4d7-4c36-4c5b-9a59-1f0e3c0f2a11';
      const review = JSON.parse(JSON.stringify(complete(uid, result, { auditAnnotations: { '0-digest': 'x/y@sha256:00' } })));
      const verdict = verifyAdmissionResponse(uid, true, review);
      assert.equal(verdict.error, undefined, verdict.error);
      assert.ok(verdict.error === undefined);
      assert.equal(verdict.allowed, result.type === 'allowed' || result.type === 'patched');
      assert.deepEqual(verdict.auditAnnotations, { '0-digest': 'x/y@sha256:00' });
      if (result.type === 'patched' && result.ops.length > 0) {
        assert.equal(verdict.patchType, 'JSONPatch');
        assert.deepEqual(JSON.parse(verdict.patch ?? ''), result.ops);
      } else {
        assert.equal(review.response.patch, undefined);
        assert.equal(review.response.patchType, undefined);
      }
      if (result.type === 'denied' || result.type === 'errored') {
        assert.equal(review.response.status.code, result.code);
        assert.equal(review.response.status.message, result.message);
      } else {
        assert.equal(review.response.status, undefined);
      }
    });
  }

  it('echoes the uid exactly (a different uid is refused by the apiserver)', () => {
    const review = complete('123', allowed());
    assert.equal(review.response.uid, '123');
    assert.equal(verifyAdmissionResponse('1234', true, review).error?.includes('expected response.uid'), true);
  });

  it('encodes the patch byte for byte like the upstream vector (standard base64 of compact JSON)', () => {
    const review = complete('123', patched([{ op: 'add', path: '/foo', value: 'bar' }]));
    assert.equal(review.response.patch, vectors.patchBase64.base64);
    assert.equal(encodePatch([{ op: 'add', path: '/foo', value: 'bar' }]), vectors.patchBase64.base64);
  });

  it('matches the Kubernetes documentation examples', () => {
    const uid = '<value from request.uid>';
    assert.deepEqual(complete(uid, allowed()), docs.minimalAllow);
    const deny = complete(uid, denied('You cannot do this because it is Tuesday and your name starts with A', 403));
    const expected = docs.denyWithStatus?.response.status as Record<string, unknown>;
    assert.equal(deny.response.allowed, false);
    assert.equal(deny.response.status?.code, expected.code);
    assert.equal(deny.response.status?.message, expected.message);
    assert.equal(deny.response.status?.reason, 'Forbidden');
    const withPatch = complete(uid, patched([{ op: 'add', path: '/spec/replicas', value: 3 }]));
    assert.equal(withPatch.response.patchType, docs.allowWithJSONPatch?.response.patchType);
    assert.deepEqual(
      JSON.parse(Buffer.from(withPatch.response.patch ?? '', 'base64').toString()),
      JSON.parse(docs.allowWithJSONPatch_decodedPatchText),
    );
    const warned = complete(uid, allowed(docs.allowWithWarnings?.response.warnings as string[]));
    assert.deepEqual(warned, docs.allowWithWarnings);
  });

  it('uses only response field names of the upstream round-trip fixture', () => {
    const full = fixtureJson<{ response: Record<string, unknown> }>(
      'admission-review/k8s-testdata-HEAD-admission.k8s.io.v1.AdmissionReview.json',
    );
    const known = new Set(Object.keys(full.response));
    const statusKnown = new Set(Object.keys(full.response.status as object));
    for (const [, result] of resultsTheApiserverMustAccept) {
      const r = complete('u', result, { warnings: ['x'], auditAnnotations: { a: 'b' } }).response as unknown as Record<string, unknown>;
      for (const k of Object.keys(r)) assert.ok(known.has(k), `unknown response field ${k}`);
      if (r.status !== undefined)
        for (const k of Object.keys(r.status as object)) assert.ok(statusKnown.has(k), `unknown status field ${k}`);
    }
  });

  it("merges the result's warnings with the extras' warnings, without duplicates", () => {
    const review = complete('u', patched(OPS, ['from builder']), { warnings: ['from handler', 'from builder'] });
    assert.deepEqual(review.response.warnings, ['from builder', 'from handler']);
  });

  it('omits warnings and auditAnnotations when there are none', () => {
    const r = complete('u', allowed(), { warnings: [], auditAnnotations: {} }).response;
    assert.equal('warnings' in r, false);
    assert.equal('auditAnnotations' in r, false);
  });

  const invalidAuditKeys = ['camel.apache.org/x', '', '-leading', 'trailing-', 'a'.repeat(64), 'with space', 'ünicode'];
  it('drops audit annotation keys the apiserver would refuse and bounds values', () => {
    const annotations: Record<string, string> = { '0-digest': 'd'.repeat(5000), 'ok.key_1': 'v' };
    for (const k of invalidAuditKeys) annotations[k] = 'bad';
    const r = complete('u', allowed(), { auditAnnotations: annotations }).response;
    assert.deepEqual(Object.keys(r.auditAnnotations ?? {}).sort(), ['0-digest', 'ok.key_1']);
    assert.equal(r.auditAnnotations?.['0-digest']?.length, MAX_AUDIT_VALUE_CHARS);
  });

  it('bounds a denial message', () => {
    const r = complete('u', denied('x'.repeat(100_000))).response;
    assert.ok((r.status?.message.length ?? 0) <= 2048);
    assert.ok(r.status?.message.endsWith('...'));
  });
});

describe('boundWarnings', () => {
  it("keeps few, short warnings whose total stays far below the apiserver's 4096-character cut", () => {
    const many = Array.from({ length: 500 }, (_, i) => `warning ${i} ${'x'.repeat(1000)}`);
    const out = boundWarnings(many);
    assert.equal(out.length, MAX_WARNINGS);
    for (const w of out) assert.ok(w.length <= MAX_WARNING_CHARS, `${w.length}`);
    assert.ok(out.join('').length < 4096);
  });
  const cleaned: Array<[string, string[], string[]]> = [
    ['strips a "Warning:" prefix (the apiserver adds its own)', ['Warning: careful'], ['careful']],
    ['replaces control characters (they break the Warning header)', ['a\nb\u0000c\u007f'], ['a b c']],
    ['drops empty ones', ['', '   ', 'x'], ['x']],
    ['drops duplicates', ['x', 'x', 'y'], ['x', 'y']],
  ];
  for (const [name, input, expected] of cleaned) it(name, () => assert.deepEqual(boundWarnings(input), expected));
});

describe('result constructors', () => {
  it('denied defaults to 403', () => {
    const r = denied('m');
    assert.equal(r.type === 'denied' && r.code, 403);
  });
  it('errored names the error code and keeps the camel-oci message', () => {
    const r = errored(500, new CamelOciError('IO_ERROR', 'disk full'));
    assert.equal(r.type, 'errored');
    assert.ok(r.type === 'errored' && r.message.includes('IO_ERROR') && r.message.includes('disk full'));
    const plain = errored(500, 'just a string');
    assert.ok(plain.type === 'errored' && plain.message.includes('INTERNAL'));
  });
  const outcomes: Array<[AdmissionResult, string]> = [
    [allowed(), 'allowed'],
    [skipped('why'), 'skipped'],
    [patched(OPS), 'patched'],
    [patched([]), 'allowed'],
    [denied('no'), 'denied'],
    [errored(500, new Error('x')), 'errored'],
  ];
  for (const [result, outcome] of outcomes) {
    it(`outcome of ${result.type}${result.type === 'allowed' && result.skipped ? ' (skipped)' : ''} is ${outcome}`, () => {
      assert.equal(outcomeOf(result), outcome);
    });
  }
});

describe('parseAdmissionReview', () => {
  const request = { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' };
  const rejected: Array<[string, unknown, string]> = [
    ['null', null, 'NOT_AN_OBJECT'],
    ['an array', [request], 'NOT_AN_OBJECT'],
    ['a string', 'AdmissionReview', 'NOT_AN_OBJECT'],
    [
      'v1beta1 (not registered, would need a v1beta1 answer)',
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request },
      'WRONG_API_VERSION',
    ],
    ['no apiVersion', { kind: 'AdmissionReview', request }, 'WRONG_API_VERSION'],
    ['wrong kind', { apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request }, 'WRONG_KIND'],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'NO_REQUEST'],
    ['request is an array', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: [] }, 'NO_REQUEST'],
    ['no uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...request, uid: undefined } }, 'NO_UID'],
    ['empty uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...request, uid: '' } }, 'NO_UID'],
    ['numeric uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...request, uid: 123 } }, 'NO_UID'],
    [
      'absurd uid',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...request, uid: 'u'.repeat(100_000) } },
      'NO_UID',
    ],
  ];
  for (const [name, body, code] of rejected) {
    it(`refuses ${name}`, () => {
      const parsed = parseAdmissionReview(body);
      assert.equal(parsed.ok, false);
      assert.ok(!parsed.ok && parsed.code === code, JSON.stringify(parsed));
      assert.ok(!parsed.ok && parsed.reason.length < 200);
    });
  }
  it('accepts the upstream round-trip fixture and returns its request', () => {
    const body = fixtureJson('admission-review/k8s-testdata-HEAD-admission.k8s.io.v1.AdmissionReview.json');
    const parsed = parseAdmissionReview(body);
    assert.ok(parsed.ok);
    assert.equal(parsed.request.uid, 'uidValue');
    assert.equal(parsed.request.subResource, 'subResourceValue');
  });
  it("accepts the documentation's scale UPDATE request", () => {
    const parsed = parseAdmissionReview(fixtureJson('admission-review/k8s-docs-request-example-scale-update.json'));
    assert.ok(parsed.ok);
    assert.equal(parsed.request.operation, 'UPDATE');
  });
});
