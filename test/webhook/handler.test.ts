import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerConfig } from '../../src/oci/docker-config.js';
import { handleAdmission, isPodCreate } from '../../src/webhook/handler.js';
import { displayReference } from '../../src/admit/messages.js';
import type { PodAdmissionDeps as HandlerDeps } from '../../src/admit/pod.js';
import { complete, type AdmissionRequest } from '../../src/webhook/admission.js';
import { DeadlineExceededError } from '../../src/base/abort.js';
import { pinnedReference } from '../../src/plan/artifact.js';
import { CamelOciError } from '../../src/base/errors.js';
import {
  DEPS,
  FakeResolver,
  applyOps,
  artifactFor,
  camelKPod,
  memoryLogger,
  resolveFailure,
  reviewOf,
  type FakeAnswer,
} from './support.js';
import { verifyAdmissionResponse } from './apiserver-verify.js';
import { ANNOTATION_RESOLVED } from '../../src/inject/annotations.js';

const REF = '127.0.0.1:5000/acme/deps:1.0';
const FETCHER = 'ghcr.io/acme/camel-oci@sha256:' + 'a'.repeat(64);

function deps(resolver: FakeResolver, extra: Partial<HandlerDeps> = {}): HandlerDeps {
  return { resolver, inject: { fetcherImage: FETCHER }, onError: 'deny', ...extra };
}

function requestOf(object: unknown, fields: Parameters<typeof reviewOf>[1] = {}): AdmissionRequest {
  return reviewOf(object, fields).request as unknown as AdmissionRequest;
}

function ctx(signal: AbortSignal = new AbortController().signal) {
  return { signal, logger: memoryLogger().logger };
}

function resolverWith(entries: Array<[string, FakeAnswer]>): FakeResolver {
  return new FakeResolver(new Map(entries));
}

describe('handleAdmission: injection', () => {
  it('patches a Deployment-backed Camel K pod: init container, mount, classpath, resolved annotation', async () => {
    const resolver = new FakeResolver();
    const pod = camelKPod('hello', { [DEPS]: `container:${REF}` });
    const ans = await handleAdmission(requestOf(pod), ctx(), deps(resolver));
    assert.equal(ans.result.type, 'patched');
    assert.ok(ans.result.type === 'patched');
    assert.equal(ans.references, 1);
    const out = applyOps(pod, ans.result.ops);
    assert.equal(out.spec.initContainers[0].name, 'camel-oci-fetch');
    assert.equal(out.spec.initContainers[0].image, FETCHER);
    const integration = out.spec.containers[0];
    assert.ok(integration.volumeMounts.some((m: any) => m.name === 'camel-oci' && m.mountPath === '/camel-oci' && m.readOnly === true));
    const cp = integration.args[integration.args.indexOf('-cp') + 1] as string;
    assert.ok(cp.startsWith('./resources:'), 'the original classpath stays first');
    assert.ok(cp.includes('/camel-oci/dependencies/'), cp);
    const resolved = JSON.parse(out.metadata.annotations['camel.apache.org/container-dependencies.resolved']);
    assert.equal(resolved[0].pinned, pinnedReference(artifactFor(REF)));
    // the resolver got the reference and the deadline signal
    assert.equal(resolver.calls.length, 1);
    assert.equal(resolver.calls[0]?.reference, REF);
    assert.ok(resolver.calls[0]?.request?.signal instanceof AbortSignal);
  });

  it('records every pinned digest in audit annotations with keys the apiserver accepts', async () => {
    const refs = [REF, '127.0.0.1:5000/acme/kamelets:2.0', '127.0.0.1:5000/acme/other@sha256:' + 'b'.repeat(64)];
    const ans = await handleAdmission(
      requestOf(camelKPod('hello', { [DEPS]: refs.map((r) => `container:${r}`).join(',') })),
      ctx(),
      deps(new FakeResolver()),
    );
    for (const [i, r] of refs.entries()) {
      assert.equal(ans.auditAnnotations[`${i}-digest`], pinnedReference(artifactFor(r)));
      assert.equal(ans.auditAnnotations[`${i}-reference`], `container:${r}`);
    }
    const review = complete('u', ans.result, { auditAnnotations: ans.auditAnnotations, warnings: ans.warnings });
    assert.equal(Object.keys(review.response.auditAnnotations ?? {}).length, 6, 'no key was dropped as invalid');
  });

  it('resolves all references concurrently', async () => {
    const refs = ['127.0.0.1:5000/a/one:1', '127.0.0.1:5000/a/two:1', '127.0.0.1:5000/a/three:1'];
    const resolver = resolverWith(refs.map((r) => [r, { artifact: artifactFor(r), delayMs: 30 }]));
    const started = performance.now();
    const ans = await handleAdmission(requestOf(camelKPod('hello', { [DEPS]: refs.join(' ') })), ctx(), deps(resolver));
    assert.equal(ans.result.type, 'patched');
    assert.equal(resolver.maxInFlight, 3);
    assert.ok(performance.now() - started < 85, 'three 30 ms resolutions took about one');
  });

  it('patches a Knative pod without touching queue-proxy', async () => {
    const pod = camelKPod('knative', { [DEPS]: REF });
    const ans = await handleAdmission(requestOf(pod), ctx(), deps(new FakeResolver()));
    assert.ok(ans.result.type === 'patched' && ans.result.ops.length > 0);
    const queueProxy = pod.spec.containers.findIndex((c: any) => c.name === 'queue-proxy');
    for (const op of ans.result.ops) assert.ok(!op.path.startsWith(`/spec/containers/${queueProxy}`), op.path);
    assert.deepEqual(applyOps(pod, ans.result.ops).spec.containers[queueProxy], pod.spec.containers[queueProxy]);
  });

  it('is idempotent: the patched pod, sent again (reinvocation), is skipped without resolving', async () => {
    const pod = camelKPod('hello', { [DEPS]: REF });
    const first = await handleAdmission(requestOf(pod), ctx(), deps(new FakeResolver()));
    assert.ok(first.result.type === 'patched');
    const resolver = new FakeResolver();
    const again = await handleAdmission(requestOf(applyOps(pod, first.result.ops)), ctx(), deps(resolver));
    assert.equal(again.result.type, 'allowed');
    assert.ok(again.result.type === 'allowed' && again.result.skipped);
    assert.equal(resolver.calls.length, 0);
  });

  it("passes on the patch builder's warnings, saying who speaks", async () => {
    const pod = camelKPod('hello', { [DEPS]: REF });
    delete pod.spec.containers[0].args; // jvm trait off: no -cp to extend
    delete pod.spec.containers[0].command;
    const ans = await handleAdmission(requestOf(pod), ctx(), deps(new FakeResolver()));
    assert.ok(ans.result.type === 'patched');
    const w = ans.warnings.find((x) => x.includes('CAMEL_OCI_CLASSPATH'));
    assert.ok(w !== undefined, JSON.stringify(ans.warnings));
    assert.match(w, /^camel-oci: /);
  });

  it("passes the pod's pull secrets to the resolver", async () => {
    const resolver = new FakeResolver();
    const seen: Array<[string, unknown]> = [];
    const secret = JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('pod:s3cret').toString('base64') } } });
    const ans = await handleAdmission(
      requestOf(camelKPod('hello', { [DEPS]: REF }), { namespace: 'team-a' }),
      ctx(),
      deps(resolver, { pullSecrets: async (ns, pod) => (seen.push([ns, pod]), [parseDockerConfig(secret, 'pull secret')]) }),
    );
    assert.equal(ans.result.type, 'patched');
    assert.equal(seen[0]?.[0], 'team-a');
    assert.deepEqual(resolver.calls[0]?.request?.pullSecrets, [parseDockerConfig(secret, 'pull secret')]);
  });

  it('goes on with a warning when the pull secrets cannot be read', async () => {
    const ans = await handleAdmission(
      requestOf(camelKPod('hello', { [DEPS]: REF })),
      ctx(),
      deps(new FakeResolver(), { pullSecrets: async () => Promise.reject(new CamelOciError('UNAUTHORIZED', 'secrets is forbidden')) }),
    );
    assert.equal(ans.result.type, 'patched');
    assert.ok(ans.warnings.some((w) => w.includes('imagePullSecrets') && w.includes('UNAUTHORIZED')));
  });
});

describe('handleAdmission: what it leaves alone', () => {
  const pod = camelKPod('hello', { [DEPS]: REF });
  const notOurs: Array<[string, Parameters<typeof reviewOf>[1]]> = [
    ['UPDATE', { operation: 'UPDATE', oldObject: pod }],
    ['DELETE', { operation: 'DELETE' }],
    ['CONNECT', { operation: 'CONNECT' }],
    ['a subresource (pods/status)', { subResource: 'status' }],
    ['pods/ephemeralcontainers', { subResource: 'ephemeralcontainers' }],
    [
      'a Deployment',
      { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } },
    ],
    [
      'a ConfigMap',
      { kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' } },
    ],
    [
      'a Pod of another group',
      { kind: { group: 'example.com', version: 'v1', kind: 'Pod' }, resource: { group: 'example.com', version: 'v1', resource: 'pods' } },
    ],
  ];
  for (const [name, fields] of notOurs) {
    it(`allows ${name} untouched without resolving`, async () => {
      const resolver = new FakeResolver();
      const ans = await handleAdmission(requestOf(pod, fields), ctx(), deps(resolver));
      assert.ok(ans.result.type === 'allowed' && ans.result.skipped);
      assert.equal(resolver.calls.length, 0);
      assert.equal(isPodCreate(requestOf(pod, fields)), false);
    });
  }

  const skippedPods: Array<[string, Record<string, any>]> = [
    ['a pod without the annotation', camelKPod('hello')],
    ['an opted-out pod', camelKPod('hello', { [DEPS]: REF, 'camel.apache.org/oci-injection': 'disabled' })],
    ['a pod with an empty annotation', camelKPod('hello', { [DEPS]: ' , ' })],
  ];
  for (const [name, p] of skippedPods) {
    it(`skips ${name}`, async () => {
      const resolver = new FakeResolver();
      const ans = await handleAdmission(requestOf(p), ctx(), deps(resolver));
      assert.ok(ans.result.type === 'allowed' && ans.result.skipped);
      assert.ok((ans.reason ?? '').length > 0);
      assert.equal(resolver.calls.length, 0);
    });
  }

  it('handles the upstream scale UPDATE example as not ours', async () => {
    const { fixtureJson } = await import('../helpers/fixtures.js');
    const body = fixtureJson<{ request: AdmissionRequest }>('admission-review/k8s-docs-request-example-scale-update.json');
    const ans = await handleAdmission(body.request, ctx(), deps(new FakeResolver()));
    assert.ok(ans.result.type === 'allowed' && ans.result.skipped);
  });
});

describe('handleAdmission: failures', () => {
  it('denies a pod whose reference cannot be resolved, naming the reference and the cause', async () => {
    const bad = '127.0.0.1:5000/acme/deps:9.9';
    const resolver = resolverWith([
      [bad, resolveFailure('MANIFEST_UNKNOWN', 'manifest 127.0.0.1:5000/acme/deps:9.9 is unknown to the registry')],
    ]);
    const { logger, lines } = memoryLogger();
    const ans = await handleAdmission(
      requestOf(camelKPod('hello', { [DEPS]: `container:${REF},container:${bad}` })),
      { signal: new AbortController().signal, logger },
      deps(resolver),
    );
    assert.equal(ans.result.type, 'denied');
    assert.ok(ans.result.type === 'denied');
    assert.equal(ans.result.code, 403);
    assert.match(ans.result.message, /^camel-oci: cannot resolve container:127\.0\.0\.1:5000\/acme\/deps:9\.9: MANIFEST_UNKNOWN: /);
    assert.equal(ans.reason, 'MANIFEST_UNKNOWN');
    assert.ok(lines.some((l) => l.msg === 'reference not resolved'));
  });

  it("answers a transient registry failure with 503 (not the pod's fault)", async () => {
    const resolver = resolverWith([[REF, resolveFailure('UNAVAILABLE', 'connection refused', true)]]);
    const ans = await handleAdmission(requestOf(camelKPod('hello', { [DEPS]: REF })), ctx(), deps(resolver));
    assert.ok(ans.result.type === 'denied' && ans.result.code === 503);
  });

  it('with onError allow, admits the pod unmutated with a short warning', async () => {
    const resolver = resolverWith([[REF, resolveFailure('NAME_UNKNOWN', 'repository name not known to registry')]]);
    const ans = await handleAdmission(requestOf(camelKPod('hello', { [DEPS]: REF })), ctx(), deps(resolver, { onError: 'allow' }));
    assert.ok(ans.result.type === 'allowed' && !ans.result.skipped);
    assert.equal(ans.warnings.length, 1);
    assert.ok(ans.warnings[0]?.includes(`container:${REF}`) && ans.warnings[0]?.includes('NAME_UNKNOWN'));
    assert.ok((ans.warnings[0]?.length ?? 0) <= 120, 'own warnings keep to the recommended 120 characters');
    assert.equal(ans.auditAnnotations['resolution-error'], 'NAME_UNKNOWN');
  });

  it('treats a resolver that throws synchronously as a failed resolution', async () => {
    const resolver = new FakeResolver();
    resolver.resolve = () => {
      throw new TypeError('boom');
    };
    const ans = await handleAdmission(requestOf(camelKPod('hello', { [DEPS]: REF })), ctx(), deps(resolver));
    assert.ok(ans.result.type === 'denied' && ans.result.message.includes('INTERNAL') && ans.result.message.includes(`container:${REF}`));
  });

  it("denies a pod whose annotation is unusable, with the inject layer's explanation", async () => {
    const ans = await handleAdmission(requestOf(camelKPod('hello', { [DEPS]: 'container:' })), ctx(), deps(new FakeResolver()));
    assert.ok(ans.result.type === 'denied');
    assert.equal(ans.reason, 'REFERENCE_INVALID');
    assert.match(ans.result.message, /^camel-oci: /);
    assert.ok(ans.result.message.includes('camel.apache.org/container-dependencies'));
  });

  it('denies a pod whose artifact has no usable layer (InjectError from the patch builder)', async () => {
    const resolver = resolverWith([[REF, { artifact: artifactFor(REF, { layers: [] }) }]]);
    const ans = await handleAdmission(requestOf(camelKPod('hello', { [DEPS]: REF })), ctx(), deps(resolver));
    assert.ok(ans.result.type === 'denied' && ans.reason === 'NO_USABLE_LAYERS');
  });

  it('denies a pod that already uses a name camel-oci needs', async () => {
    const pod = camelKPod('hello', { [DEPS]: REF });
    pod.spec.volumes.push({ name: 'camel-oci', emptyDir: {} });
    const ans = await handleAdmission(requestOf(pod), ctx(), deps(new FakeResolver()));
    assert.ok(ans.result.type === 'denied' && ans.reason === 'NAME_COLLISION');
  });

  it("throws on invalid injection options (the webhook's fault, answered as errored by the edge)", async () => {
    await assert.rejects(
      handleAdmission(requestOf(camelKPod('hello', { [DEPS]: REF })), ctx(), { ...deps(new FakeResolver()), inject: { fetcherImage: '' } }),
      (err: unknown) => err instanceof CamelOciError && err.code === 'CONFIG_INVALID',
    );
  });

  it('denies a Pod CREATE without an object', async () => {
    const ans = await handleAdmission(requestOf(null), ctx(), deps(new FakeResolver()));
    assert.ok(ans.result.type === 'denied' && ans.result.code === 400);
  });
});

describe('handleAdmission: deadline', () => {
  it('denies with a clear message naming the pending reference when the deadline fires first', async () => {
    const slow = '127.0.0.1:5000/acme/slow:1';
    const resolver = resolverWith([[slow, { never: true }]]);
    const c = new AbortController();
    const pending = handleAdmission(requestOf(camelKPod('hello', { [DEPS]: `${REF} ${slow}` })), ctx(c.signal), deps(resolver));
    setTimeout(() => c.abort(new DeadlineExceededError(1_500)), 20);
    const ans = await pending;
    assert.ok(ans.result.type === 'denied');
    assert.equal(ans.result.code, 504);
    assert.equal(ans.result.message, `camel-oci: resolving container:${slow} did not finish within 1.5s (registry slow or unreachable)`);
  });

  it('answers from stale-if-error when the deadline fires and every pending tag has a digest within the grace', async () => {
    const slow = '127.0.0.1:5000/acme/slow:1';
    const resolver = resolverWith([[slow, { never: true }]]);
    const c = new AbortController();
    const pod = camelKPod('hello', { [DEPS]: `${REF} ${slow}` });
    const withoutStale = handleAdmission(requestOf(pod), ctx(c.signal), deps(resolver));
    c.abort(new DeadlineExceededError(1_500));
    assert.ok((await withoutStale).result.type === 'denied', 'no digest to stand in: denied as before');

    resolver.stale.set(slow, artifactFor(slow, { digest: `sha256:${'5'.repeat(64)}` }));
    const late = new AbortController();
    const pending = handleAdmission(requestOf(pod), ctx(late.signal), deps(resolver));
    setTimeout(() => late.abort(new DeadlineExceededError(1_500)), 20);
    const ans = await pending;
    assert.ok(ans.result.type === 'patched', JSON.stringify(ans.result));
    const out = applyOps(pod, ans.result.ops) as { metadata: { annotations: Record<string, string> } };
    const resolved = JSON.parse(out.metadata.annotations[ANNOTATION_RESOLVED]!) as Array<{ ref: string; pinned: string; stale?: true }>;
    assert.deepEqual(
      resolved.map((r) => [r.ref, r.stale === true]),
      [
        [REF, false],
        [slow, true],
      ],
    );
    assert.ok(
      ans.warnings.some((w) => w.includes(slow) && /stale|earlier/i.test(w)),
      ans.warnings.join('\n'),
    );
  });

  it('with onError allow, admits unmutated with a warning when the deadline fires first', async () => {
    const resolver = resolverWith([[REF, { never: true }]]);
    const c = new AbortController();
    const pending = handleAdmission(requestOf(camelKPod('hello', { [DEPS]: REF })), ctx(c.signal), deps(resolver, { onError: 'allow' }));
    c.abort(new DeadlineExceededError(9_000));
    const ans = await pending;
    assert.ok(ans.result.type === 'allowed');
    assert.ok(ans.warnings[0]?.includes('did not finish within 9s'));
  });

  it('does not wait for pull secrets past the deadline', async () => {
    const c = new AbortController();
    const pending = handleAdmission(
      requestOf(camelKPod('hello', { [DEPS]: REF })),
      ctx(c.signal),
      deps(new FakeResolver(), { pullSecrets: () => new Promise(() => undefined) }),
    );
    setTimeout(() => c.abort(new DeadlineExceededError(1_000)), 10);
    const ans = await pending;
    assert.ok(ans.result.type === 'denied' && ans.result.code === 504);
  });
});

describe('displayReference', () => {
  it('writes the container: form whether or not the user did', () => {
    assert.equal(displayReference(REF), `container:${REF}`);
    assert.equal(displayReference(`container:${REF}`), `container:${REF}`);
  });
  it('keeps both ends of an absurdly long reference', () => {
    const long = `127.0.0.1:5000/${'a'.repeat(5000)}:tag-at-the-end`;
    const shown = displayReference(long, 60);
    assert.equal(shown.length, 60);
    assert.ok(shown.startsWith('container:127.0.0.1:5000/'));
    assert.ok(shown.endsWith(':tag-at-the-end'));
  });
});

describe('handleAdmission output through complete()', () => {
  it('is accepted by the apiserver model for a mutating webhook, and the patch applies to the pod', async () => {
    const pod = camelKPod('hello', { [DEPS]: REF });
    const ans = await handleAdmission(requestOf(pod), ctx(), deps(new FakeResolver()));
    const review = JSON.parse(
      JSON.stringify(complete('uid-1', ans.result, { warnings: ans.warnings, auditAnnotations: ans.auditAnnotations })),
    );
    const verdict = verifyAdmissionResponse('uid-1', true, review);
    assert.equal(verdict.error, undefined);
    assert.ok(verdict.error === undefined && verdict.patch !== undefined);
    const out = applyOps(pod, JSON.parse(verdict.patch));
    assert.equal(out.spec.initContainers[0].name, 'camel-oci-fetch');
  });
});
