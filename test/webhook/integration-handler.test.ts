import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pinFailure, pinObject } from '../../src/admit/integration.js';
import { parseDockerConfig } from '../../src/oci/docker-config.js';
import type { PodAdmissionDeps as HandlerDeps } from '../../src/admit/pod.js';
import { handleIntegrationAdmission as admitIntegration, isCamelKWrite } from '../../src/webhook/handler.js';
import { complete, type AdmissionRequest } from '../../src/webhook/admission.js';
import { DeadlineExceededError } from '../../src/base/abort.js';
import { CamelOciError } from '../../src/base/errors.js';
import { ANNOTATION_PINNED, ANNOTATION_REFRESH } from '../../src/inject/annotations.js';
import { FakeResolver, applyOps, artifactFor, memoryLogger, resolveFailure, type FakeAnswer } from './support.js';
import { verifyAdmissionResponse } from './apiserver-verify.js';
import { camelReviewOf, crdErrors, kamelRerun, kamelRunIntegration, pipeOf, type Obj } from '../helpers/camel-k.js';

const REF = '127.0.0.1:5000/acme/deps:1.0';
const OTHER = '127.0.0.1:5000/acme/kamelets:2.0';
const PULL_SECRET = JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('pod:pw').toString('base64') } } });

function deps(resolver: FakeResolver, extra: Partial<HandlerDeps> = {}): HandlerDeps {
  return { resolver, inject: { fetcherImage: 'ghcr.io/acme/camel-oci:0.1.0' }, onError: 'deny', ...extra };
}

function requestOf(object: Obj, fields: Parameters<typeof camelReviewOf>[1] = {}): AdmissionRequest {
  return camelReviewOf(object, fields).request as AdmissionRequest;
}

function ctx(signal: AbortSignal = new AbortController().signal) {
  return { signal, logger: memoryLogger().logger };
}

async function admitted(
  object: Obj,
  resolver = new FakeResolver(),
  fields: Parameters<typeof camelReviewOf>[1] = {},
  extra: Partial<HandlerDeps> = {},
): Promise<{ out: Obj; ans: Awaited<ReturnType<typeof admitIntegration>> }> {
  const ans = await admitIntegration(requestOf(object, fields), ctx(), deps(resolver, extra));
  assert.equal(ans.result.type, 'patched', JSON.stringify(ans.result));
  const out = applyOps(object, ans.result.type === 'patched' ? ans.result.ops : []);
  assert.deepEqual(crdErrors(out), []);
  return { out, ans };
}

describe('isCamelKWrite', () => {
  const base = requestOf(kamelRunIntegration('x'));
  const cases: Array<[string, Partial<AdmissionRequest>, boolean]> = [
    ['Integration CREATE', {}, true],
    ['Integration UPDATE', { operation: 'UPDATE' }, true],
    [
      'Pipe CREATE',
      {
        kind: { group: 'camel.apache.org', version: 'v1', kind: 'Pipe' },
        resource: { group: 'camel.apache.org', version: 'v1', resource: 'pipes' },
      },
      true,
    ],
    ['DELETE', { operation: 'DELETE' }, false],
    ['the status subresource', { subResource: 'status' }, false],
    [
      'a v1alpha1 KameletBinding',
      {
        kind: { group: 'camel.apache.org', version: 'v1alpha1', kind: 'KameletBinding' },
        resource: { group: 'camel.apache.org', version: 'v1alpha1', resource: 'kameletbindings' },
      },
      false,
    ],
    ['a Pod', { kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' } }, false],
    ['kind and resource that disagree', { resource: { group: 'camel.apache.org', version: 'v1', resource: 'pipes' } }, false],
  ];
  for (const [name, fields, expected] of cases) it(name, () => assert.equal(isCamelKWrite({ ...base, ...fields }), expected));
});

describe('admitIntegration', () => {
  it('pins an Integration: resolver called once per reference with the deadline, audit annotations name the pins', async () => {
    const resolver = new FakeResolver();
    const it_ = kamelRunIntegration('hello', {
      dependencies: ['camel:http', `container:${REF}`, `container:${OTHER}`, `container:${REF}`],
    });
    const { out, ans } = await admitted(it_, resolver);
    assert.deepEqual(resolver.calls.map((c) => c.reference).sort(), [OTHER, REF].sort());
    assert.ok(resolver.calls.every((c) => c.request?.signal instanceof AbortSignal && c.request.refreshTags === undefined));
    const pins = `${REF}@${artifactFor(REF).digest},${OTHER}@${artifactFor(OTHER).digest}`;
    assert.equal(out.metadata.annotations[ANNOTATION_PINNED], pins);
    assert.deepEqual(out.spec.traits.environment.vars, [`CAMEL_OCI_DEPENDENCIES=${pins}`]);
    assert.equal(ans.references, 2);
    assert.equal(ans.auditAnnotations['0-pinned'], `${REF}@${artifactFor(REF).digest}`);
    assert.equal(ans.auditAnnotations['1-reference'], `container:${OTHER}`);
    const verdict = verifyAdmissionResponse(
      '8f0e3c2a-1b4d-4e5f-9a6b-7c8d9e0f1a2b',
      true,
      complete('8f0e3c2a-1b4d-4e5f-9a6b-7c8d9e0f1a2b', ans.result, ans),
    );
    assert.equal(verdict.error, undefined);
  });

  it('sticky: kamel run again on the stored object makes no resolver call and changes nothing', async () => {
    const { out: stored } = await admitted(kamelRunIntegration('hello', { dependencies: [`container:${REF}`] }));
    const resolver = new FakeResolver();
    const again = kamelRerun(stored, [`container:${REF}`]);
    const { out, ans } = await admitted(again, resolver, { oldObject: stored });
    assert.equal(resolver.calls.length, 0);
    assert.deepEqual(out, stored);
    assert.equal(ans.auditAnnotations.pins, 'reused from the old object');
  });

  it('a new oci-refresh value resolves again, asking the registry for the tags', async () => {
    const { out: stored } = await admitted(kamelRunIntegration('hello', { dependencies: [`container:${REF}`] }));
    const moved = { ...artifactFor(REF), digest: `sha256:${'c'.repeat(64)}` };
    const resolver = new FakeResolver(new Map<string, FakeAnswer>([[REF, { artifact: moved }]]));
    const next = structuredClone(stored);
    next.metadata.annotations[ANNOTATION_REFRESH] = '1';
    const { out } = await admitted(next, resolver, { oldObject: stored });
    assert.equal(resolver.calls.length, 1);
    assert.equal(resolver.calls[0]?.request?.refreshTags, true);
    assert.equal(out.metadata.annotations[ANNOTATION_PINNED], `${REF}@${moved.digest}`);
  });

  it('denies a write whose reference cannot be resolved, naming it for the kamel run user', async () => {
    const resolver = new FakeResolver(
      new Map([[OTHER, resolveFailure('MANIFEST_UNKNOWN', `container:${OTHER}: manifest unknown (HTTP 404)`)]]),
    );
    const ans = await admitIntegration(
      requestOf(kamelRunIntegration('hello', { dependencies: [`container:${REF}`, `container:${OTHER}`] })),
      ctx(),
      deps(resolver),
    );
    assert.equal(ans.result.type, 'denied');
    assert.ok(ans.result.type === 'denied');
    assert.equal(ans.result.code, 403);
    assert.equal(ans.result.message, `camel-oci: cannot resolve container:${OTHER}: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)`);
  });

  it('--on-error allow: admits with a warning, entries moved into the request annotation, no pins', async () => {
    const resolver = new FakeResolver(new Map([[REF, resolveFailure('UNAVAILABLE', 'connection refused', true)]]));
    const { out, ans } = await admitted(
      kamelRunIntegration('hello', { dependencies: ['camel:http', `container:${REF}`] }),
      resolver,
      {},
      { onError: 'allow' },
    );
    assert.deepEqual(out.spec.dependencies, ['camel:http']);
    assert.equal(out.metadata.annotations[ANNOTATION_PINNED], undefined);
    assert.equal(out.spec.traits, undefined);
    assert.match(
      ans.warnings.join('\n'),
      /dependencies not pinned: cannot resolve container:127\.0\.0\.1:5000\/acme\/deps:1\.0 \(UNAVAILABLE\)/,
    );
    assert.equal(ans.auditAnnotations['resolution-error'], 'UNAVAILABLE');
  });

  it('answers 504 naming the pending reference when the deadline fires, even if the resolver ignores it', async () => {
    const resolver = new FakeResolver(new Map<string, FakeAnswer>([[REF, { never: true }]]));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new DeadlineExceededError(1000)), 20);
    const ans = await admitIntegration(
      requestOf(kamelRunIntegration('hello', { dependencies: [`container:${REF}`] })),
      ctx(controller.signal),
      deps(resolver),
    );
    assert.ok(ans.result.type === 'denied');
    assert.equal(ans.result.code, 504);
    assert.match(ans.result.message, /resolving container:127\.0\.0\.1:5000\/acme\/deps:1\.0 did not finish within 1s/);
  });

  it('skips what is not its business, with no resolver call', async () => {
    const resolver = new FakeResolver();
    const pipeOwned = kamelRunIntegration('p', { dependencies: [`container:${REF}`] });
    pipeOwned.metadata.ownerReferences = [{ apiVersion: 'camel.apache.org/v1', kind: 'Pipe', name: 'p', uid: 'u', controller: true }];
    for (const [object, fields] of [
      [pipeOwned, {}],
      [kamelRunIntegration('x', { dependencies: ['camel:http'] }), {}],
      [kamelRunIntegration('x', { dependencies: [`container:${REF}`] }), { operation: 'DELETE' }],
    ] as Array<[Obj, Parameters<typeof camelReviewOf>[1]]>) {
      const ans = await admitIntegration(requestOf(object, fields), ctx(), deps(resolver));
      assert.deepEqual(ans.result, { type: 'allowed', skipped: true, reason: ans.reason, warnings: [] });
    }
    assert.equal(resolver.calls.length, 0);
  });

  it('refuses bad input with 400/403 and a message', async () => {
    const request = requestOf(kamelRunIntegration('x'));
    const notObject = await admitIntegration({ ...request, object: 'nope' }, ctx(), deps(new FakeResolver()));
    assert.ok(notObject.result.type === 'denied');
    assert.equal(notObject.result.code, 400);
    const bad = await admitIntegration(
      requestOf(kamelRunIntegration('x', { dependencies: ['container:'] })),
      ctx(),
      deps(new FakeResolver()),
    );
    assert.ok(bad.result.type === 'denied');
    assert.equal(bad.result.code, 403);
    assert.match(bad.result.message, /^camel-oci: a dependency "container:" names no reference/);
    assert.equal(bad.reason, 'REFERENCE_INVALID');
  });

  it('resolves with the pull secrets of the pods to be (service account, pull-secret trait); a reader failure is a warning', async () => {
    const seen: Array<[string, unknown]> = [];
    const resolver = new FakeResolver();
    const integration = kamelRunIntegration('hello', {
      dependencies: [`container:${REF}`],
      traits: { 'pull-secret': { secretName: 'regcred' } },
    });
    integration.spec.serviceAccountName = 'builder';
    await admitted(
      integration,
      resolver,
      {},
      {
        pullSecrets: async (namespace, pod) => {
          seen.push([namespace, pod]);
          return [parseDockerConfig(PULL_SECRET, 'pull secret')];
        },
      },
    );
    assert.deepEqual(seen, [['demo', { spec: { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'regcred' }] } }]]);
    assert.deepEqual(resolver.calls[0]?.request?.pullSecrets, [parseDockerConfig(PULL_SECRET, 'pull secret')]);

    const { ans } = await admitted(
      kamelRunIntegration('hello', { dependencies: [`container:${REF}`] }),
      new FakeResolver(),
      {},
      {
        pullSecrets: async () => {
          throw new CamelOciError('UNAVAILABLE', 'apiserver down');
        },
      },
    );
    assert.match(ans.warnings.join('\n'), /could not read the pull secrets.*\(UNAVAILABLE\)/);
  });

  it('pins a Pipe with dependencies in both places', async () => {
    const { out } = await admitted(pipeOf('p', { dependencies: [`container:${REF}`], integrationDependencies: [`container:${OTHER}`] }));
    assert.equal(out.spec.dependencies, undefined);
    assert.equal(out.spec.integration.dependencies, undefined);
    assert.equal(out.metadata.annotations[ANNOTATION_PINNED], `${REF}@${artifactFor(REF).digest},${OTHER}@${artifactFor(OTHER).digest}`);
  });
});

describe('pinObject (the CLI path)', () => {
  it('answers a failure naming the failing reference, which pinFailure turns into the CLI error', async () => {
    const resolver = new FakeResolver(new Map([[REF, resolveFailure('MANIFEST_UNKNOWN', 'gone')]]));
    const result = await pinObject(
      kamelRunIntegration('x', { dependencies: [`container:${REF}`] }),
      undefined,
      { resolver },
      new AbortController().signal,
    );
    assert.equal(result.type, 'failed');
    assert.ok(result.type === 'failed' && !result.outcome.ok && !result.outcome.aborted);
    assert.equal(result.outcome.reference, REF);
    const err = pinFailure(result);
    assert.equal(err.code, 'MANIFEST_UNKNOWN');
    assert.match(err.message, new RegExp(`^cannot resolve container:${REF.replace(/\./g, '\\.')}: gone`));
  });
});
