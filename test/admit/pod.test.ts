import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admitPod, type PodAdmissionDeps } from '../../src/admit/pod.js';
import { OwnerPins } from '../../src/admit/pins.js';
import { deepFreeze } from '../../src/base/frozen.js';
import { SKIP_REASONS } from '../../src/inject/decide.js';
import { ANNOTATION_PINNED, ANNOTATION_RESOLVED } from '../../src/inject/annotations.js';
import { DEPS, FakeResolver, applyOps, artifactFor, camelKPod, memoryLogger } from '../webhook/support.js';

const REF = '127.0.0.1:5000/acme/deps:1.0';
const PINNED_DIGEST = `sha256:${'7'.repeat(64)}`;
const FETCHER = 'ghcr.io/acme/camel-oci@sha256:' + 'a'.repeat(64);
const ctx = () => ({ signal: new AbortController().signal, logger: memoryLogger().logger });
const deps = (resolver: FakeResolver, extra: Partial<PodAdmissionDeps> = {}): PodAdmissionDeps => ({
  resolver,
  inject: { fetcherImage: FETCHER },
  onError: 'deny',
  ...extra,
});
const owned = (pod: Record<string, any>, uid: string) => ({
  ...pod,
  metadata: { ...pod.metadata, ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', uid, controller: true }] },
});

function resolvedOf(ops: readonly unknown[], pod: unknown): Array<{ ref: string; pinned: string }> {
  const out = applyOps(pod, ops as never) as { metadata: { annotations: Record<string, string> } };
  return JSON.parse(out.metadata.annotations[ANNOTATION_RESOLVED]!) as Array<{ ref: string; pinned: string }>;
}

describe('admitPod: pins', () => {
  it('admits a pod of a pinned Integration from its pins: the resolver is asked for the digest, never the tag', async () => {
    const resolver = new FakeResolver(new Map([[`${REF}@${PINNED_DIGEST}`, { artifact: artifactFor(REF, { digest: PINNED_DIGEST }) }]]));
    const pod = camelKPod('hello', { [DEPS]: `container:${REF}`, [ANNOTATION_PINNED]: `${REF}@${PINNED_DIGEST}` });
    const ans = await admitPod(pod, 'ns', deps(resolver), ctx());
    assert.equal(ans.result.type, 'patched');
    assert.deepEqual(
      resolver.calls.map((c) => c.reference),
      [`${REF}@${PINNED_DIGEST}`],
    );
    const resolved = resolvedOf((ans.result as unknown as { ops: unknown[] }).ops, pod);
    // The resolved annotation is what it is without pins: the reference as asked, the pinned digest.
    assert.equal(resolved[0]?.ref, REF);
    assert.equal(resolved[0]?.pinned, `127.0.0.1:5000/acme/deps@${PINNED_DIGEST}`);
  });

  it('resolves the tag when the pins do not cover every reference', async () => {
    const resolver = new FakeResolver();
    const other = '127.0.0.1:5000/acme/other:2';
    const pod = camelKPod('hello', { [DEPS]: `container:${REF},container:${other}`, [ANNOTATION_PINNED]: `${REF}@${PINNED_DIGEST}` });
    await admitPod(pod, 'ns', deps(resolver), ctx());
    assert.deepEqual(resolver.calls.map((c) => c.reference).sort(), [REF, other].sort());
  });

  it('gives replicas of one owner the digest the first replica was admitted at, even after the tag moved', async () => {
    const first = artifactFor(REF);
    const moved = artifactFor(REF, { digest: `sha256:${'9'.repeat(64)}` });
    const resolver = new FakeResolver(new Map([[REF, { artifact: first }]]));
    const shared = deps(resolver, { ownerPins: new OwnerPins() });
    const pod = camelKPod('hello', { [DEPS]: `container:${REF}` });
    const a = await admitPod(owned(pod, 'rs-1'), 'ns', shared, ctx());
    resolver.answers.set(REF, { artifact: moved });
    resolver.answers.set(`${REF}@${first.digest}`, { artifact: first });
    const b = await admitPod(owned(pod, 'rs-1'), 'ns', shared, ctx());
    const c = await admitPod(owned(pod, 'rs-2'), 'ns', shared, ctx());
    const pinnedOf = (ans: typeof a) => resolvedOf((ans.result as unknown as { ops: unknown[] }).ops, pod)[0]?.pinned;
    assert.equal(pinnedOf(b), pinnedOf(a), 'same owner, same digest');
    assert.equal(resolver.calls[1]?.reference, `${REF}@${first.digest}`);
    assert.match(pinnedOf(c) ?? '', /@sha256:9{64}$/, 'another owner resolves the tag as it is now');
  });
});

describe('admitPod: image volumes', () => {
  const pushed = (digest: string) =>
    artifactFor(REF, {
      digest,
      artifactType: 'application/vnd.camel-oci.artifact.v1',
      configMediaType: 'application/vnd.oci.image.config.v1+json',
      layers: [{ ...artifactFor(REF).layers[0]!, name: 'libs', title: 'dependencies-libs.tar.gz' }],
    });

  it('a pod of a pinned Integration: admitted from its pins as an image volume, and left alone when invoked again', async () => {
    const resolver = new FakeResolver(new Map([[`${REF}@${PINNED_DIGEST}`, { artifact: pushed(PINNED_DIGEST) }]]));
    const pod = camelKPod('hello', { [DEPS]: `container:${REF}`, [ANNOTATION_PINNED]: `${REF}@${PINNED_DIGEST}` });
    const on = deps(resolver, { inject: { fetcherImage: FETCHER, imageVolumes: true } });
    const ans = await admitPod(pod, 'ns', on, ctx());
    assert.equal(ans.result.type, 'patched');
    const patched = applyOps(pod, (ans.result as unknown as { ops: never }).ops) as Record<string, any>;
    assert.equal(
      (patched.spec.initContainers ?? []).some((c: { name: string }) => c.name === 'camel-oci-fetch'),
      false,
    );
    const hex = PINNED_DIGEST.slice(7, 19);
    assert.deepEqual(
      patched.spec.volumes.find((v: { name: string }) => v.name === `camel-oci-image-${hex}`),
      { name: `camel-oci-image-${hex}`, image: { reference: `127.0.0.1:5000/acme/deps@${PINNED_DIGEST}`, pullPolicy: 'IfNotPresent' } },
    );
    assert.deepEqual(
      resolver.calls.map((c) => c.reference),
      [`${REF}@${PINNED_DIGEST}`],
    );
    // Reinvocation (reinvocationPolicy IfNeeded) sees the image volume as the injection.
    const again = await admitPod(patched, 'ns', on, ctx());
    assert.deepEqual(again.result, { type: 'allowed', skipped: true, reason: SKIP_REASONS.alreadyInjected, warnings: [] });
    assert.equal(resolver.calls.length, 1, 'nothing resolved again');
  });

  it('a Deployment template gets the image volume under /spec/template', async () => {
    const resolver = new FakeResolver(new Map([[REF, { artifact: pushed(PINNED_DIGEST) }]]));
    const template = camelKPod('hello', { [DEPS]: `container:${REF}` });
    const ans = await admitPod(
      template,
      'ns',
      deps(resolver, { inject: { fetcherImage: FETCHER, imageVolumes: true } }),
      ctx(),
      '/spec/template',
    );
    assert.equal(ans.result.type, 'patched');
    const ops = (ans.result as unknown as { ops: Array<{ path: string }> }).ops;
    assert.ok(ops.length > 0 && ops.every((o) => o.path.startsWith('/spec/template/')));
    const deployment = applyOps({ spec: { template: template } }, ops as never) as Record<string, any>;
    assert.ok(deployment.spec.template.spec.volumes.some((v: { name: string }) => v.name.startsWith('camel-oci-image-')));
  });
});

describe('admitPod: a deeply frozen pod (a kept request)', () => {
  it('is admitted as its unfrozen copy is, every time, pinned or not', async () => {
    const resolver = new FakeResolver(
      new Map([
        [REF, { artifact: artifactFor(REF) }],
        [`${REF}@${PINNED_DIGEST}`, { artifact: artifactFor(REF, { digest: PINNED_DIGEST }) }],
      ]),
    );
    const cases: Record<string, string>[] = [
      { [DEPS]: `container:${REF}` },
      { [DEPS]: `container:${REF}`, [ANNOTATION_PINNED]: `${REF}@${PINNED_DIGEST}` },
    ];
    for (const annotations of cases) {
      const plain = owned(camelKPod('hello', annotations), 'rs-1');
      const frozen = deepFreeze(structuredClone(plain));
      const want = await admitPod(plain, 'ns', deps(resolver), ctx());
      for (let i = 0; i < 3; i++) assert.deepEqual(await admitPod(frozen, 'ns', deps(resolver), ctx()), want);
    }
  });

  it('a shallowly frozen pod is read afresh: a change inside it counts', async () => {
    const resolver = new FakeResolver(new Map([[REF, { artifact: artifactFor(REF) }]]));
    const pod = Object.freeze(camelKPod('hello', { [DEPS]: `container:${REF}` })) as Record<string, any>;
    assert.equal((await admitPod(pod, 'ns', deps(resolver), ctx())).result.type, 'patched');
    pod.metadata.annotations['camel.apache.org/oci-injection'] = 'disabled';
    assert.notEqual((await admitPod(pod, 'ns', deps(resolver), ctx())).result.type, 'patched');
  });
});
