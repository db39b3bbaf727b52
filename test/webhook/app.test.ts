import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerConfig } from '../../src/oci/docker-config.js';
import type { JsonPatchOperation } from '../../src/admit/result.js';
import request from 'supertest';
import { createApp, MAX_BODY_BYTES, installProcessGuards } from '../../src/webhook/app.js';
import type { PodAdmissionDeps as HandlerDeps } from '../../src/admit/pod.js';
import { createMetrics } from '../../src/webhook/metrics.js';
import { DEPS, FakeResolver, applyOps, artifactFor, camelKPod, memoryLogger, resolveFailure, reviewOf } from './support.js';
import { verifyAdmissionResponse } from './apiserver-verify.js';

const REF = '127.0.0.1:5000/acme/deps:1.0';
const FETCHER = 'ghcr.io/acme/camel-oci:0.1.0';
const UID = '0df28fbd-5f5f-11e8-bc74-36e6bb280816';

function setup(options: { resolver?: FakeResolver; deps?: Partial<HandlerDeps>; ready?: () => boolean } = {}) {
  const resolver = options.resolver ?? new FakeResolver();
  const metrics = createMetrics({ defaultMetrics: false });
  const { logger, lines } = memoryLogger();
  const app = createApp({
    handlerDeps: { resolver, inject: { fetcherImage: FETCHER }, onError: 'deny', ...options.deps },
    metrics,
    logger,
    ready: options.ready ?? (() => true),
  });
  return { app, resolver, metrics, lines };
}

function mutate(app: ReturnType<typeof setup>['app'], body: unknown, query = '?timeout=10s') {
  return request(app).post(`/mutate${query}`).set('Content-Type', 'application/json').send(JSON.stringify(body));
}

describe('POST /mutate', () => {
  it('answers a Camel K pod with a patch the apiserver accepts, echoing the uid', async () => {
    const { app, lines } = setup();
    const pod = camelKPod('hello', { [DEPS]: `container:${REF}` });
    const res = await mutate(app, reviewOf(pod, { uid: UID }));
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(res.body.response.uid, UID);
    const verdict = verifyAdmissionResponse(UID, true, res.body);
    assert.ok(verdict.error === undefined, verdict.error);
    assert.equal(verdict.allowed, true);
    assert.equal(verdict.patchType, 'JSONPatch');
    const out = applyOps(pod, JSON.parse(verdict.patch ?? '[]'));
    assert.equal(out.spec.initContainers[0].name, 'camel-oci-fetch');
    assert.equal(res.body.response.auditAnnotations['0-digest'], `127.0.0.1:5000/acme/deps@${artifactFor(REF).digest}`);
    // one log line for the admission, with what an operator searches by
    const line = lines.find((l) => l.msg === 'admission');
    assert.ok(line);
    assert.equal(line.uid, UID);
    assert.equal(line.namespace, 'demo');
    assert.equal(line.integration, 'hello');
    assert.equal(line.outcome, 'patched');
    assert.equal(line.references, 1);
    assert.equal(typeof line.durationMs, 'number');
  });

  it('sends no x-powered-by and no ETag', async () => {
    const { app } = setup();
    const res = await mutate(app, reviewOf(camelKPod('hello'), { uid: UID }));
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.equal(res.headers.etag, undefined);
  });

  const untouched: Array<[string, Parameters<typeof reviewOf>[1]]> = [
    ['UPDATE', { operation: 'UPDATE' }],
    ['DELETE', { operation: 'DELETE' }],
    [
      'a non-Pod kind',
      { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } },
    ],
  ];
  for (const [name, fields] of untouched) {
    it(`allows ${name} untouched`, async () => {
      const { app, resolver } = setup();
      const res = await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: REF }), { uid: UID, ...fields }));
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: UID, allowed: true } });
      assert.equal(resolver.calls.length, 0);
    });
  }

  it('allows a pod without the annotation untouched', async () => {
    const { app } = setup();
    const res = await mutate(app, reviewOf(camelKPod('knative'), { uid: UID }));
    assert.deepEqual(res.body.response, { uid: UID, allowed: true });
  });

  it('denies a pod whose reference cannot be resolved, naming the reference', async () => {
    const bad = '127.0.0.1:5000/acme/deps:9.9';
    const { app } = setup({ resolver: new FakeResolver(new Map([[bad, resolveFailure('MANIFEST_UNKNOWN', 'manifest unknown')]])) });
    const res = await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: `container:${bad}` }), { uid: UID }));
    assert.equal(res.status, 200);
    assert.ok(verifyAdmissionResponse(UID, true, res.body).error === undefined);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 403);
    assert.equal(res.body.response.status.message, `camel-oci: cannot resolve container:${bad}: MANIFEST_UNKNOWN: manifest unknown`);
    assert.equal(res.body.response.patch, undefined);
  });

  it('with onError allow, allows unmutated with a warning', async () => {
    const { app } = setup({
      resolver: new FakeResolver(new Map([[REF, resolveFailure('UNAUTHORIZED', 'authentication required')]])),
      deps: { onError: 'allow' },
    });
    const res = await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: REF }), { uid: UID }));
    assert.equal(res.body.response.allowed, true);
    assert.equal(res.body.response.patch, undefined);
    assert.equal(res.body.response.warnings.length, 1);
    assert.match(res.body.response.warnings[0], /UNAUTHORIZED/);
  });

  it("answers before the apiserver's ?timeout with a denial when the registry never answers, and keeps serving", async () => {
    const slow = '127.0.0.1:5000/acme/slow:1';
    const { app, lines } = setup({ resolver: new FakeResolver(new Map([[slow, { never: true }]])) });
    const started = performance.now();
    const res = await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: slow }), { uid: UID }), '?timeout=2s');
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2_000, `answered after ${elapsed} ms`);
    assert.ok(elapsed >= 1_400, `answered too early (${elapsed} ms): the budget is 1.5 s`);
    assert.equal(res.status, 200);
    assert.equal(res.body.response.uid, UID);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 504);
    assert.equal(
      res.body.response.status.message,
      `camel-oci: resolving container:${slow} did not finish within 1.5s (registry slow or unreachable)`,
    );
    assert.equal(lines.find((l) => l.msg === 'admission')?.reason, 'TIMEOUT');
    // the next request is served normally
    const next = await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: REF }), { uid: 'next' }));
    assert.equal(next.body.response.uid, 'next');
    assert.equal(next.body.response.patchType, 'JSONPatch');
  });

  it('turns an exception into errored(500) carrying the uid', async () => {
    // An empty fetcher image is a configuration error the handler does not expect at run time.
    const { app, lines } = setup({ deps: { inject: { fetcherImage: '' } } });
    const res = await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: REF }), { uid: UID }));
    assert.equal(res.status, 200);
    assert.ok(verifyAdmissionResponse(UID, true, res.body).error === undefined);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 500);
    assert.equal(res.body.response.status.reason, 'InternalError');
    assert.match(res.body.response.status.message, /CONFIG_INVALID/);
    assert.ok(lines.some((l) => l.msg === 'admission failed with an exception'));
    assert.equal(lines.find((l) => l.msg === 'admission')?.outcome, 'errored');
  });
});

describe('POST /mutate: bad input', () => {
  const badBodies: Array<[string, string, RegExp]> = [
    ['truncated JSON', JSON.stringify(reviewOf(camelKPod('hello'))).slice(0, 200), /not valid JSON/],
    ['a wrong apiVersion', JSON.stringify({ ...reviewOf(camelKPod('hello')), apiVersion: 'admission.k8s.io/v1beta1' }), /apiVersion/],
    ['a wrong kind', JSON.stringify({ ...reviewOf(camelKPod('hello')), kind: 'Pod' }), /kind/],
    [
      'a missing uid',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }),
      /uid/,
    ],
    ['a JSON scalar', '42', /not valid JSON|object/],
    ['an empty body', '', /apiVersion|JSON/],
  ];
  for (const [name, body, reason] of badBodies) {
    it(`answers 400 with a reason for ${name}`, async () => {
      const { app } = setup();
      const res = await request(app).post('/mutate').set('Content-Type', 'application/json').send(body);
      assert.equal(res.status, 400);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(res.body.error, 'BadRequest');
      assert.match(res.body.reason, reason);
      assert.ok(JSON.stringify(res.body).length < 300, 'a small body, not an error page');
    });
  }

  const wrongTypes: Array<[string, string | undefined]> = [
    ['text/plain', 'text/plain'],
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['application/yaml', 'application/yaml'],
  ];
  for (const [name, type] of wrongTypes) {
    it(`answers 400 for Content-Type ${name}, saying so`, async () => {
      const { app, metrics } = setup();
      const res = await request(app)
        .post('/mutate')
        .set('Content-Type', type ?? '')
        .send(JSON.stringify(reviewOf(camelKPod('hello'))));
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'BadRequest');
      assert.equal(res.body.reason, 'Content-Type must be application/json');
      assert.match(await metrics.text(), /camel_oci_invalid_requests_total\{code="400"\} 1/);
    });
  }

  it('answers 400 for a body without a content type', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/mutate')
      .send(Buffer.from(JSON.stringify(reviewOf(camelKPod('hello')))));
    assert.equal(res.status, 400);
  });

  it('answers 400 with the reason for another charset or a Content-Encoding', async () => {
    const { app } = setup();
    const body = JSON.stringify(reviewOf(camelKPod('hello')));
    const latin1 = await request(app).post('/mutate').set('Content-Type', 'application/json; charset=iso-8859-1').send(body);
    assert.equal(latin1.status, 400);
    assert.equal(latin1.body.reason, 'unsupported charset (use utf-8)');
    const gzip = await request(app).post('/mutate').set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send(body);
    assert.equal(gzip.status, 400);
    assert.equal(gzip.body.reason, 'unsupported Content-Encoding');
  });

  it('accepts application/json with a charset parameter', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/mutate')
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(JSON.stringify(reviewOf(camelKPod('hello'), { uid: UID })));
    assert.equal(res.status, 200);
    assert.equal(res.body.response.uid, UID);
  });

  it('answers 413 with a reason for a body over 7 MiB', async () => {
    const { app, resolver } = setup();
    const pod = camelKPod('hello', { [DEPS]: REF, filler: 'x'.repeat(MAX_BODY_BYTES) });
    const res = await request(app)
      .post('/mutate')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(reviewOf(pod)));
    assert.equal(res.status, 413);
    assert.equal(res.body.error, 'PayloadTooLarge');
    assert.match(res.body.reason, /7 MiB/);
    assert.equal(resolver.calls.length, 0);
  });

  it('answers a body just under 7 MiB', async () => {
    const { app } = setup();
    const pod = camelKPod('hello', { filler: 'x'.repeat(MAX_BODY_BYTES - 20_000) });
    const body = JSON.stringify(reviewOf(pod, { uid: UID }));
    assert.ok(Buffer.byteLength(body) <= MAX_BODY_BYTES);
    const res = await request(app).post('/mutate').set('Content-Type', 'application/json').send(body);
    assert.equal(res.status, 200);
    assert.equal(res.body.response.uid, UID);
  });

  it('handles a pod with hundreds of containers and thousands of env entries', async () => {
    const { app } = setup();
    const pod = camelKPod('hello', { [DEPS]: REF });
    const template = pod.spec.containers[0];
    template.env = Array.from({ length: 5_000 }, (_, i) => ({ name: `VAR_${i}`, value: `value-${i}` }));
    for (let i = 0; i < 300; i++)
      pod.spec.containers.push({ name: `sidecar-${i}`, image: 'busybox', env: [{ name: 'X', value: String(i) }] });
    const res = await mutate(app, reviewOf(pod, { uid: UID }));
    assert.equal(res.status, 200);
    assert.equal(res.body.response.patchType, 'JSONPatch');
    const ops = JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString()) as JsonPatchOperation[];
    // The patch is as small as the change, not proportional to the pod.
    assert.ok(ops.length < 20, `${ops.length} ops`);
    assert.ok(res.body.response.patch.length < 20_000);
    const out = applyOps(pod, ops);
    assert.equal(out.spec.containers.length, 301);
  });

  const absurdAnnotations: Array<[string, string]> = [
    ['100 KiB of references', `container:${REF},`.repeat(4_000)],
    ['one 64 KiB reference', `container:127.0.0.1:5000/${'a'.repeat(65_536)}:1`],
    ['a bare prefix', 'container:'],
  ];
  for (const [name, value] of absurdAnnotations) {
    it(`denies an absurd annotation (${name}) with a bounded message, without resolving`, async () => {
      const { app, resolver } = setup();
      const res = await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: value }), { uid: UID }));
      assert.equal(res.status, 200);
      assert.equal(res.body.response.allowed, false);
      assert.ok(res.body.response.status.message.length <= 2048);
      assert.match(res.body.response.status.message, /camel\.apache\.org\/container-dependencies/);
      assert.equal(resolver.calls.length, 0);
    });
  }

  it('survives annotations and labels of the wrong JSON types', async () => {
    const { app } = setup();
    const pod = camelKPod('hello');
    pod.metadata.annotations = { [DEPS]: { nested: ['x'] } };
    pod.metadata.labels = ['not', 'a', 'map'];
    const res = await mutate(app, reviewOf(pod, { uid: UID }));
    assert.equal(res.status, 200);
    assert.equal(res.body.response.uid, UID);
  });

  it('refuses other methods on /mutate and unknown routes without an HTML page', async () => {
    const { app } = setup();
    const get = await request(app).get('/mutate');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const missing = await request(app).get('/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(missing.text.includes('<'), false);
  });
});

describe('probes and metrics', () => {
  it('GET /healthz answers ok', async () => {
    const res = await request(setup().app).get('/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
  });

  it('GET /readyz follows ready()', async () => {
    let ready = false;
    const { app } = setup({ ready: () => ready });
    assert.equal((await request(app).get('/readyz')).status, 503);
    ready = true;
    assert.equal((await request(app).get('/readyz')).status, 200);
    const throwing = setup({
      ready: () => {
        throw new Error('x');
      },
    });
    assert.equal((await request(throwing.app).get('/readyz')).status, 503);
  });

  it('GET /metrics shows the admissions counted by outcome', async () => {
    const bad = '127.0.0.1:5000/acme/deps:9.9';
    const { app } = setup({ resolver: new FakeResolver(new Map([[bad, resolveFailure('MANIFEST_UNKNOWN', 'unknown')]])) });
    await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: REF })));
    await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: REF })));
    await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: bad })));
    await mutate(app, reviewOf(camelKPod('hello')));
    await mutate(app, reviewOf(camelKPod('hello'), { operation: 'DELETE' }));
    const res = await request(app).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(res.text, /^camel_oci_admissions_total\{outcome="patched",kind="Pod",reason="none"\} 2$/m);
    assert.match(res.text, /^camel_oci_admissions_total\{outcome="denied",kind="Pod",reason="MANIFEST_UNKNOWN"\} 1$/m);
    assert.match(res.text, /^camel_oci_admissions_total\{outcome="skipped",kind="Pod",reason="skip"\} 2$/m);
    assert.match(res.text, /^camel_oci_admission_duration_seconds_count\{kind="Pod"\} 5$/m);
  });
});

describe('secrets', () => {
  it("never logs the pod's pull secrets", async () => {
    const secret = '{"auths":{"127.0.0.1:5000":{"auth":"c3VwZXI6c2VjcmV0"}}}';
    const bad = '127.0.0.1:5000/acme/private:1';
    const { app, lines } = setup({
      resolver: new FakeResolver(new Map([[bad, resolveFailure('UNAUTHORIZED', 'authentication required')]])),
      deps: { pullSecrets: async () => [parseDockerConfig(secret, 'pull secret')] },
    });
    await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: REF })));
    await mutate(app, reviewOf(camelKPod('hello', { [DEPS]: bad })));
    const text = JSON.stringify(lines);
    assert.ok(lines.length >= 2);
    assert.equal(text.includes('c3VwZXI6c2VjcmV0'), false);
  });
});

describe('installProcessGuards', () => {
  it('logs a stray rejection instead of letting it kill the process, and can be removed', async () => {
    const { logger, lines } = memoryLogger();
    const before = process.listenerCount('unhandledRejection');
    const remove = installProcessGuards(logger);
    assert.equal(process.listenerCount('unhandledRejection'), before + 1);
    // Called directly: emitting the event would also reach the test runner's own listener.
    const guard = process.listeners('unhandledRejection').at(-1) as (reason: unknown, p: Promise<unknown>) => void;
    guard(new Error('stray'), Promise.resolve());
    assert.ok(lines.some((l) => l.msg === 'unhandled promise rejection'));
    remove();
    assert.equal(process.listenerCount('unhandledRejection'), before);
  });

  it('logs an uncaught exception and exits, so the pod restarts in a known state', () => {
    const { logger, lines } = memoryLogger();
    const exits: number[] = [];
    const remove = installProcessGuards(logger, (code) => exits.push(code));
    try {
      const guard = process.listeners('uncaughtException').at(-1) as (err: Error) => void;
      guard(new Error('boom'));
      assert.deepEqual(exits, [70]);
      assert.ok(lines.some((l) => String(l.msg).startsWith('uncaught exception')));
    } finally {
      remove();
    }
  });
});
