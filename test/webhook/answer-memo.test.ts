import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { admitPod, type AdmissionContext, type PodAdmissionDeps } from '../../src/admit/pod.js';
import { AnswerMemo, MAX_MEMO_POD_CHARS } from '../../src/admit/answer-memo.js';
import type { AdmissionAnswer } from '../../src/admit/answer.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';
import { ANNOTATION_PINNED } from '../../src/inject/annotations.js';
import { createApp } from '../../src/webhook/app.js';
import { requestKeyOf } from '../../src/webhook/parsed-requests.js';
import { createMetrics } from '../../src/webhook/metrics.js';
import { DEPS, FakeResolver, artifactFor, camelKPod, memoryLogger, reviewOf } from './support.js';

const REF = '127.0.0.1:5000/acme/deps:1.0';
const OTHER = '127.0.0.1:5000/acme/other:2.0';
const FETCHER = 'ghcr.io/acme/camel-oci@sha256:' + 'a'.repeat(64);
const ctx = (requestKey?: () => string | undefined): AdmissionContext => ({
  signal: new AbortController().signal,
  logger: memoryLogger().logger,
  ...(requestKey ? { requestKey } : {}),
});

/** A resolver whose answers are fixed instances, as the real resolver's warm cache hands them out. */
function fixedResolver(extra: Record<string, Partial<ResolvedArtifact>> = {}): FakeResolver {
  return new FakeResolver(
    new Map([REF, OTHER, `${REF}@sha256:${'7'.repeat(64)}`].map((r) => [r, { artifact: artifactFor(r, extra[r] ?? {}) }] as const)),
  );
}

function deps(resolver: FakeResolver, memo?: AnswerMemo, extra: Partial<PodAdmissionDeps> = {}): PodAdmissionDeps {
  return { resolver, inject: { fetcherImage: FETCHER }, onError: 'deny', ...(memo ? { answerMemo: memo } : {}), ...extra };
}

const basePod = (): Record<string, any> => {
  const pod = camelKPod('hello', { [DEPS]: `container:${REF}` });
  pod.metadata.labels = { ...pod.metadata.labels, 'pod-template-hash': '5d4f8c7b9' };
  return pod;
};

/** Every input of the patch the builder reads, changed one at a time. */
const VARIANTS: ReadonlyArray<readonly [string, (pod: Record<string, any>) => void]> = [
  ['another reference', (p) => (p.metadata.annotations[DEPS] = `container:${OTHER}`)],
  ['two references', (p) => (p.metadata.annotations[DEPS] = `container:${REF},container:${OTHER}`)],
  ['pins', (p) => (p.metadata.annotations[ANNOTATION_PINNED] = `${REF}@sha256:${'7'.repeat(64)}`)],
  ['another annotation', (p) => (p.metadata.annotations['example.com/note'] = 'x')],
  ['a mesh opt-out label', (p) => (p.metadata.labels['sidecar.istio.io/inject'] = 'false')],
  ['another pod-template-hash', (p) => (p.metadata.labels['pod-template-hash'] = '6e5a9d8c0')],
  ['another owner', (p) => (p.metadata.ownerReferences = [{ kind: 'ReplicaSet', name: 'rs2', uid: 'u-2', controller: true }])],
  ['another classpath', (p) => p.spec.containers[0].args?.splice(0, 0, '-Dfoo=bar')],
  ['another image', (p) => (p.spec.containers[0].image = 'example.com/other:1')],
  ['another env', (p) => (p.spec.containers[0].env = [...(p.spec.containers[0].env ?? []), { name: 'X', value: 'y' }])],
  ['a volume', (p) => (p.spec.volumes = [...(p.spec.volumes ?? []), { name: 'v', emptyDir: {} }])],
  [
    'volume mounts or none',
    (p) => {
      if (p.spec.containers[0].volumeMounts === undefined) p.spec.containers[0].volumeMounts = [{ name: 'v', mountPath: '/v' }];
      else delete p.spec.containers[0].volumeMounts;
    },
  ],
  ['an init container', (p) => (p.spec.initContainers = [{ name: 'first', image: 'busybox' }])],
  ['a pull secret', (p) => (p.spec.imagePullSecrets = [{ name: 'regcred' }])],
  ['runAsUser', (p) => (p.spec.securityContext = { runAsUser: 1234 })],
  ['already injected', (p) => (p.spec.initContainers = [{ name: 'camel-oci-fetch', image: 'x' }])],
  ['a name', (p) => (p.metadata.name = 'hello-abc12')],
];

const patchOf = (ans: AdmissionAnswer): unknown => (ans.result.type === 'patched' ? ans.result.ops : ans.result);

describe('answer memo: identical pods share a finished answer, others never', () => {
  it('hands the same answer to an identical pod, equal to a fresh one, without building the patch again', async () => {
    const resolver = fixedResolver();
    const memo = new AnswerMemo();
    const a = await admitPod(basePod(), 'demo', deps(resolver, memo), ctx());
    const b = await admitPod(basePod(), 'demo', deps(resolver, memo), ctx());
    assert.equal(a.result.type, 'patched');
    assert.equal(b, a, 'the kept answer itself');
    assert.ok(Object.isFrozen(b));
    assert.equal(memo.size, 1);
    const fresh = await admitPod(basePod(), 'demo', deps(resolver), ctx());
    assert.deepEqual(b, fresh);
  });

  for (const [name, change] of VARIANTS) {
    it(`a pod with ${name} gets its own answer, equal to the one built without the memo`, async () => {
      const resolver = fixedResolver();
      const memo = new AnswerMemo();
      const base = await admitPod(basePod(), 'demo', deps(resolver, memo), ctx());
      const pod = basePod();
      change(pod);
      const kept = await admitPod(structuredClone(pod), 'demo', deps(resolver, memo), ctx());
      const fresh = await admitPod(structuredClone(pod), 'demo', deps(resolver), ctx());
      assert.deepEqual(kept, fresh);
      assert.notEqual(kept, base, 'not the first pod’s answer');
      assert.equal(memo.size, kept.result.type === 'patched' ? 2 : 1);
    });
  }

  it('the patch differs with every input that changes it (the variants are not vacuous)', async () => {
    const resolver = fixedResolver();
    const base = patchOf(await admitPod(basePod(), 'demo', deps(resolver), ctx()));
    const unchanged = new Set([
      'another env',
      'another annotation',
      'another pod-template-hash',
      'another owner',
      'another image',
      'a name',
      'a volume',
    ]);
    for (const [name, change] of VARIANTS) {
      const pod = basePod();
      change(pod);
      const p = patchOf(await admitPod(pod, 'demo', deps(resolver), ctx()));
      if (unchanged.has(name)) continue;
      assert.notDeepEqual(p, base, name);
    }
  });

  it('another namespace, another base path or another resolution of the same pod is another key', async () => {
    const memo = new AnswerMemo();
    const first = artifactFor(REF);
    const moved = artifactFor(REF, { digest: `sha256:${'9'.repeat(64)}` });
    const pod = basePod();
    const k = (ns: string, base: string, a: ResolvedArtifact): string | undefined => memo.key(pod, ns, base, [a]);
    assert.equal(k('demo', '', first), k('demo', '', first));
    assert.notEqual(k('demo', '', first), k('prod', '', first));
    assert.notEqual(k('demo', '', first), k('demo', '/spec/template', first));
    assert.notEqual(k('demo', '', first), k('demo', '', moved));
    assert.notEqual(k('demo', '', first), k('demo', '', { ...first, stale: true }));
    assert.notEqual(k('demo', '', first), k('demo', '', { ...first, credentials: 'webhook' }));
    // Equal-looking layers from another resolution are another instance: another key (never a wrong hit).
    assert.notEqual(k('demo', '', first), k('demo', '', { ...first, layers: first.layers.map((l) => ({ ...l })) }));
    // A request digest stands for the pod, but namespace and artifacts still count.
    assert.notEqual(memo.key(pod, 'demo', '', [first], 'r1'), memo.key(pod, 'demo', '', [first], 'r2'));
    assert.notEqual(memo.key(pod, 'demo', '', [first], 'r1'), memo.key(pod, 'demo', '', [moved], 'r1'));
    // Huge pods are not kept.
    const huge = basePod();
    huge.metadata.annotations['example.com/big'] = 'x'.repeat(MAX_MEMO_POD_CHARS);
    assert.equal(memo.key(huge, 'demo', '', [first]), undefined);
  });

  it('frozen (cached) artifacts keep their fingerprint per instance: still another key for every other instance or field', () => {
    const memo = new AnswerMemo();
    const pod = basePod();
    const first = Object.freeze(artifactFor(REF));
    const k = (...a: ResolvedArtifact[]): string | undefined => memo.key(pod, 'demo', '', a, 'r1');
    assert.equal(k(first), k(first));
    assert.equal(k(first), k(Object.freeze({ ...first })), 'the same fields and the same list instances: the same answer');
    for (const other of [
      { ...first, digest: `sha256:${'9'.repeat(64)}` },
      { ...first, stale: true },
      { ...first, credentials: 'webhook' as const },
      { ...first, reference: OTHER },
      { ...first, layers: first.layers.map((l) => ({ ...l })) },
    ]) {
      assert.notEqual(k(first), k(Object.freeze(other)));
      assert.notEqual(k(first), k(other), 'frozen or not');
    }
    assert.notEqual(k(first), k(first, first), 'one artifact is not two');
    assert.notEqual(k(first, Object.freeze(artifactFor(OTHER))), k(Object.freeze(artifactFor(OTHER)), first), 'order counts');
  });

  it('a resolution answered by another artifact (credentials, digest) is a fresh answer with its own warnings', async () => {
    const memo = new AnswerMemo();
    const a = await admitPod(basePod(), 'demo', deps(fixedResolver(), memo), ctx());
    const b = await admitPod(basePod(), 'demo', deps(fixedResolver({ [REF]: { credentials: 'webhook' } }), memo), ctx());
    assert.notEqual(b, a);
    assert.ok(b.warnings.some((w) => w.includes("needed the webhook's own credentials")));
    assert.ok(!a.warnings.some((w) => w.includes("needed the webhook's own credentials")));
  });

  it('a warning of this request alone (pull secrets unreadable) is not kept for the next pod', async () => {
    const resolver = fixedResolver();
    const memo = new AnswerMemo();
    const failing = deps(resolver, memo, { pullSecrets: () => Promise.reject(new Error('apiserver down')) });
    const a = await admitPod(basePod(), 'demo', failing, ctx());
    assert.ok(a.warnings.some((w) => w.includes('imagePullSecrets')));
    const b = await admitPod(basePod(), 'demo', deps(resolver, memo, { pullSecrets: () => Promise.resolve([]) }), ctx());
    assert.ok(!b.warnings.some((w) => w.includes('imagePullSecrets')));
    assert.deepEqual(patchOf(a), patchOf(b));
  });

  it('is bounded', async () => {
    const resolver = fixedResolver();
    const memo = new AnswerMemo(4);
    for (let i = 0; i < 10; i++) {
      const pod = basePod();
      pod.metadata.labels['pod-template-hash'] = `h${i}`;
      await admitPod(pod, 'demo', deps(resolver, memo), ctx());
    }
    assert.equal(memo.size, 4);
  });
});

describe('requestKeyOf: a request body but its uid', () => {
  const body = (uid: string, pod: unknown): Buffer => Buffer.from(JSON.stringify(reviewOf(pod, { uid })));

  it('is equal for bodies that differ in the uid only, and differs with any other byte', () => {
    const pod = basePod();
    const a = requestKeyOf(body('u-1', pod), 'u-1');
    assert.ok(a !== undefined);
    assert.equal(requestKeyOf(body('another-uid-22', pod), 'another-uid-22'), a);
    const changed = basePod();
    changed.spec.containers[0].image = 'example.com/other:1';
    assert.notEqual(requestKeyOf(body('u-1', changed), 'u-1'), a);
    assert.notEqual(requestKeyOf(body('u-1', pod), 'u-1'), requestKeyOf(body('u-1', pod).subarray(0, -1), 'u-1'));
  });

  it('is undefined when the uid is not the request’s first field as the apiserver writes it', () => {
    const text = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: {}, uid: 'u-1' } });
    assert.equal(requestKeyOf(Buffer.from(text), 'u-1'), undefined);
  });

  it('a look-alike span inside the object does not stand for the uid', () => {
    // The pod carries `"request":{"uid":…` of its own; only the span holding the parsed uid is left out.
    const withDecoy = (decoy: string): Buffer => {
      const pod = basePod();
      pod.spec.overhead = { request: { uid: decoy } };
      return body('u-1', pod);
    };
    assert.notEqual(requestKeyOf(withDecoy('d-1'), 'u-1'), requestKeyOf(withDecoy('d-2'), 'u-1'));
  });
});

describe('the webhook: identical pods, each answer with its own uid', () => {
  it('answers identical pods with the same patch and each request’s uid; another pod gets its own patch', async () => {
    const resolver = fixedResolver();
    const { logger } = memoryLogger();
    const app = createApp({
      handlerDeps: { resolver, inject: { fetcherImage: FETCHER }, onError: 'deny' },
      metrics: createMetrics({ defaultMetrics: false }),
      logger,
      ready: () => true,
    });
    const post = (uid: string, pod: unknown) =>
      request(app)
        .post('/mutate?timeout=10s')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(reviewOf(pod, { uid })));
    const a = await post('uid-a', basePod());
    const b = await post('uid-bb', basePod());
    const other = basePod();
    other.metadata.annotations[DEPS] = `container:${OTHER}`;
    const c = await post('uid-c', other);
    assert.equal(a.body.response.uid, 'uid-a');
    assert.equal(b.body.response.uid, 'uid-bb');
    assert.equal(c.body.response.uid, 'uid-c');
    assert.equal(b.body.response.patch, a.body.response.patch);
    assert.deepEqual({ ...b.body.response, uid: 'uid-a' }, a.body.response);
    assert.notEqual(c.body.response.patch, a.body.response.patch);
    assert.equal(Number(b.headers['content-length']), Buffer.byteLength(JSON.stringify(b.body)));
  });
});
