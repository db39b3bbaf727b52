import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createApp, MAX_BODY_BYTES } from '../../src/webhook/app.js';
import { createMetrics } from '../../src/webhook/metrics.js';
import { ANNOTATION_PINNED } from '../../src/inject/annotations.js';
import { DEPS, FakeResolver, applyOps, artifactFor, camelKPod, memoryLogger, resolveFailure, reviewOf } from './support.js';
import { verifyAdmissionResponse } from './apiserver-verify.js';
import { camelReviewOf, crdErrors, kamelRunIntegration, pipeOf } from '../helpers/camel-k.js';

const REF = '127.0.0.1:5000/acme/deps:1.0';
const UID = '3c1f8f2e-9a0b-4c6d-8e7f-1a2b3c4d5e6f';

function setup(resolver = new FakeResolver()) {
  const metrics = createMetrics({ defaultMetrics: false });
  const app = createApp({
    handlerDeps: { resolver, inject: { fetcherImage: 'ghcr.io/acme/camel-oci:0.1.0' }, onError: 'deny' },
    metrics,
    logger: memoryLogger().logger,
    ready: () => true,
  });
  return { app, metrics, resolver };
}

function post(app: ReturnType<typeof setup>['app'], body: unknown, path = '/mutate-integrations?timeout=10s') {
  return request(app)
    .post(path)
    .set('Content-Type', 'application/json')
    .send(typeof body === 'string' ? body : JSON.stringify(body));
}

describe('POST /mutate-integrations', () => {
  it('answers an Integration with a patch the apiserver accepts, echoing the uid', async () => {
    const { app } = setup();
    const integration = kamelRunIntegration('hello', { dependencies: ['camel:http', `container:${REF}`] });
    const res = await post(app, camelReviewOf(integration, { uid: UID }));
    assert.equal(res.status, 200);
    const verdict = verifyAdmissionResponse(UID, true, res.body);
    assert.equal(verdict.error, undefined);
    assert.equal(verdict.patchType, 'JSONPatch');
    const out = applyOps(integration, JSON.parse(verdict.patch ?? '[]'));
    assert.deepEqual(crdErrors(out), []);
    assert.equal(out.metadata.annotations[ANNOTATION_PINNED], `${REF}@${artifactFor(REF).digest}`);
  });

  it('denies with the reference named', async () => {
    const { app } = setup(new FakeResolver(new Map([[REF, resolveFailure('MANIFEST_UNKNOWN', 'manifest unknown')]])));
    const res = await post(app, camelReviewOf(pipeOf('p', { dependencies: [`container:${REF}`] }), { uid: UID }));
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.message, `camel-oci: cannot resolve container:${REF}: MANIFEST_UNKNOWN: manifest unknown`);
  });

  it('allows a Pod sent here untouched, and /mutate leaves Integrations alone', async () => {
    const { app, resolver } = setup();
    const pod = await post(app, reviewOf(camelKPod('hello', { [DEPS]: REF }), { uid: UID }));
    assert.deepEqual(pod.body.response, { uid: UID, allowed: true });
    const it_ = await post(
      app,
      camelReviewOf(kamelRunIntegration('x', { dependencies: [`container:${REF}`] }), { uid: UID }),
      '/mutate?timeout=10s',
    );
    assert.deepEqual(it_.body.response, { uid: UID, allowed: true });
    assert.equal(resolver.calls.length, 0);
  });

  it('refuses bad input as /mutate does: 405, 400, 413', async () => {
    const { app, metrics } = setup();
    const get = await request(app).get('/mutate-integrations');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const text = await request(app).post('/mutate-integrations').set('Content-Type', 'text/plain').send('x');
    assert.equal(text.status, 400);
    const broken = await post(app, '{"apiVersion":"admission.k8s.io/v1","kind":"Adm');
    assert.equal(broken.status, 400);
    assert.equal(broken.body.reason, 'request body is not valid JSON');
    const noUid = await post(app, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} });
    assert.equal(noUid.status, 400);
    const big = kamelRunIntegration('x', { dependencies: [`container:${REF}`], annotations: { filler: 'x'.repeat(MAX_BODY_BYTES) } });
    const tooLarge = await post(app, camelReviewOf(big));
    assert.equal(tooLarge.status, 413);
    const m = await metrics.text();
    assert.match(m, /camel_oci_invalid_requests_total\{code="413"\} 1/);
    assert.match(m, /camel_oci_invalid_requests_total\{code="400"\} 3/);
  });

  it('counts admissions under the kind label', async () => {
    const { app, metrics } = setup();
    await post(app, camelReviewOf(kamelRunIntegration('a', { dependencies: [`container:${REF}`] })));
    await post(app, camelReviewOf(pipeOf('b', { dependencies: [`container:${REF}`] })));
    await post(app, camelReviewOf(pipeOf('c')));
    await post(app, reviewOf(camelKPod('hello', { [DEPS]: REF })), '/mutate?timeout=10s');
    const m = await metrics.text();
    assert.match(m, /^camel_oci_admissions_total\{outcome="patched",kind="Integration",reason="none"\} 1$/m);
    assert.match(m, /^camel_oci_admissions_total\{outcome="patched",kind="Pipe",reason="none"\} 1$/m);
    assert.match(m, /^camel_oci_admissions_total\{outcome="skipped",kind="Pipe",reason="skip"\} 1$/m);
    assert.match(m, /^camel_oci_admissions_total\{outcome="patched",kind="Pod",reason="none"\} 1$/m);
    assert.match(m, /^camel_oci_admission_duration_seconds_count\{kind="Pipe"\} 2$/m);
  });
});
