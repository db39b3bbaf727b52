/** Service meshes: the init container's registry ports left out of Istio's and Linkerd's traffic redirection. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapePointer, buildInjection } from '../../src/inject/patch.js';
import { normalizeInjectOptions } from '../../src/inject/options.js';
import {
  ISTIO_EXCLUDE_OUTBOUND_PORTS,
  ISTIO_INJECT,
  LINKERD_INJECT,
  LINKERD_SKIP_OUTBOUND_PORTS,
  meshAnnotations,
  registryPorts,
} from '../../src/inject/mesh.js';
import type { FetchPlan } from '../../src/plan/plan.js';
import {
  applyAndValidate,
  artifact,
  digest,
  fetchContainer,
  helloPod,
  layer,
  OPTIONS,
  restrictedViolations,
  twoArtifacts,
  type Obj,
} from './support.js';

/** A plan naming these registries (only `registry` and `scheme` matter here). */
function planOf(...registries: [string, 'https' | 'http'][]): FetchPlan {
  return {
    version: 1,
    artifacts: registries.map(([registry, scheme]) => ({
      reference: `${registry}/a:1`,
      registry,
      repository: 'a',
      scheme,
      digest: digest('d'),
      layers: [],
    })),
  } as unknown as FetchPlan;
}

const PORT_CASES: { name: string; plan: FetchPlan; ports: number[] }[] = [
  { name: 'a registry on the default HTTPS port', plan: planOf(['registry-1.docker.io', 'https']), ports: [443] },
  { name: 'plain HTTP without a port', plan: planOf(['registry.local', 'http']), ports: [80, 443] },
  {
    name: 'explicit ports, deduplicated and sorted',
    plan: planOf(['r.example:5000', 'https'], ['q.example:5000', 'http'], ['p.example:8443', 'https']),
    ports: [443, 5000, 8443],
  },
  { name: 'an IPv6 literal with a port', plan: planOf(['[fd00::1]:5443', 'https']), ports: [443, 5443] },
  { name: 'an IPv6 literal without a port', plan: planOf(['[fd00::1]', 'http']), ports: [80, 443] },
  {
    name: "the mirrors' ports too: the fetcher asks them first",
    plan: {
      ...planOf(['r.example:5000', 'https']),
      artifacts: [
        {
          ...planOf(['r.example:5000', 'https']).artifacts[0]!,
          mirrors: [
            { registry: 'mirror.local:5001', scheme: 'http' },
            { registry: 'mirror.example', scheme: 'https' },
          ],
        },
      ],
    } as FetchPlan,
    ports: [443, 5000, 5001],
  },
];

for (const c of PORT_CASES) {
  test(`registryPorts: ${c.name}`, () => assert.deepEqual(registryPorts(c.plan), c.ports));
}

const ANNOTATION_CASES: { name: string; labels?: Obj; annotations?: Obj; want: Record<string, string> }[] = [
  {
    name: 'a pod with no mesh markers gets both (the namespace may inject)',
    want: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '443,5000', [LINKERD_SKIP_OUTBOUND_PORTS]: '443,5000' },
  },
  {
    name: 'an Istio-injected pod keeps its own list, ours appended',
    labels: { 'security.istio.io/tlsMode': 'istio' },
    annotations: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"]}', [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '15020, 9000' },
    want: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '15020,9000,443,5000', [LINKERD_SKIP_OUTBOUND_PORTS]: '443,5000' },
  },
  {
    name: 'a list that already has every port is left alone',
    annotations: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '5000,443', [LINKERD_SKIP_OUTBOUND_PORTS]: '25,400-6000' },
    want: {},
  },
  { name: 'Istio opt-out by label', labels: { [ISTIO_INJECT]: 'false' }, want: { [LINKERD_SKIP_OUTBOUND_PORTS]: '443,5000' } },
  { name: 'Istio opt-out by annotation', annotations: { [ISTIO_INJECT]: 'False' }, want: { [LINKERD_SKIP_OUTBOUND_PORTS]: '443,5000' } },
  { name: 'Linkerd opt-out', annotations: { [LINKERD_INJECT]: 'disabled' }, want: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '443,5000' } },
  {
    name: 'a Linkerd range covering 443 only adds 5000',
    annotations: { [LINKERD_SKIP_OUTBOUND_PORTS]: '1-1000' },
    want: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '443,5000', [LINKERD_SKIP_OUTBOUND_PORTS]: '1-1000,5000' },
  },
  {
    name: 'a non-string value is replaced by ours',
    annotations: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: 443 },
    want: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '443,5000', [LINKERD_SKIP_OUTBOUND_PORTS]: '443,5000' },
  },
  {
    name: 'an absurdly long list of the pod is not made longer',
    annotations: { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '1,'.repeat(3000) + '2' },
    want: { [LINKERD_SKIP_OUTBOUND_PORTS]: '443,5000' },
  },
];

for (const c of ANNOTATION_CASES) {
  test(`meshAnnotations: ${c.name}`, () => assert.deepEqual(meshAnnotations(c.labels, c.annotations, [443, 5000]), c.want));
}

/** The hello pod as Istio's injector leaves it when it ran before camel-oci. */
function istioPod(): Obj {
  const pod = helloPod();
  pod.metadata.labels = { ...pod.metadata.labels, 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': 'hello' };
  pod.metadata.annotations = {
    ...pod.metadata.annotations,
    'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}',
    [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '15020',
  };
  pod.spec.initContainers = [{ name: 'istio-init', image: 'docker.io/istio/proxyv2:1.24.0', args: ['istio-iptables', '-p', '15001'] }];
  pod.spec.containers.push({ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', args: ['proxy', 'sidecar'] });
  return pod;
}

test('an Istio pod: the registry ports join its exclusions, the pod stays valid and restricted, the init container keeps its UID', () => {
  const pod = istioPod();
  const artifacts = [
    artifact({
      reference: 'registry.example.com:5000/acme/deps:1.0',
      domain: 'registry.example.com:5000',
      registry: 'registry.example.com:5000',
      layers: [layer('1')],
    }),
  ];
  const result = buildInjection(pod, artifacts, OPTIONS);
  const istioPath = `/metadata/annotations/${escapePointer(ISTIO_EXCLUDE_OUTBOUND_PORTS)}`;
  const linkerdPath = `/metadata/annotations/${escapePointer(LINKERD_SKIP_OUTBOUND_PORTS)}`;
  assert.deepEqual(
    result.ops.filter((o) => o.path === istioPath || o.path === linkerdPath),
    [
      { op: 'add', path: istioPath, value: '15020,443,5000' },
      { op: 'add', path: linkerdPath, value: '443,5000' },
    ],
  );
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(patched.metadata.annotations[ISTIO_EXCLUDE_OUTBOUND_PORTS], '15020,443,5000');
  const init = fetchContainer(patched);
  assert.equal(patched.spec.initContainers[0], init, 'before istio-init, so it runs before the redirection is set up');
  assert.equal(patched.spec.initContainers[1].name, 'istio-init');
  assert.deepEqual(restrictedViolations(patched, init), []);
  assert.notEqual(init.securityContext?.runAsUser, 1337, 'not the proxy UID: the annotation does the job');
});

test('an opted-out pod gets no exclusion for that mesh', () => {
  const pod = helloPod();
  pod.metadata.annotations[ISTIO_INJECT] = 'false';
  pod.metadata.annotations[LINKERD_INJECT] = 'disabled';
  const patched = applyAndValidate(pod, buildInjection(pod, twoArtifacts(), OPTIONS).ops);
  assert.equal(patched.metadata.annotations[ISTIO_EXCLUDE_OUTBOUND_PORTS], undefined);
  assert.equal(patched.metadata.annotations[LINKERD_SKIP_OUTBOUND_PORTS], undefined);
});

test('a workload template gets the exclusions on the template, where the mesh injector reads them', () => {
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hello' }, spec: { template: helloPod() } };
  const result = buildInjection(deployment.spec.template, twoArtifacts(), OPTIONS, '/spec/template');
  const patched = applyAndValidate(deployment, result.ops, (d) => d.spec.template);
  assert.equal(patched.spec.template.metadata.annotations[ISTIO_EXCLUDE_OUTBOUND_PORTS], '443');
  assert.equal(patched.spec.template.metadata.annotations[LINKERD_SKIP_OUTBOUND_PORTS], '443');
  assert.equal(patched.metadata.annotations, undefined);
});

test('--mesh-exclusions off: an Istio pod keeps its own list and gets nothing added, the rest of the injection unchanged', () => {
  const pod = istioPod();
  const artifacts = twoArtifacts();
  const on = buildInjection(pod, artifacts, OPTIONS);
  const off = buildInjection(pod, artifacts, { ...OPTIONS, meshExclusions: 'off' });
  const patched = applyAndValidate(pod, off.ops);
  assert.equal(patched.metadata.annotations[ISTIO_EXCLUDE_OUTBOUND_PORTS], '15020', 'the pod’s own value, untouched');
  assert.equal(patched.metadata.annotations[LINKERD_SKIP_OUTBOUND_PORTS], undefined);
  const isMesh = (o: { path: string }) => o.path.includes('excludeOutboundPorts') || o.path.includes('skip-outbound-ports');
  assert.ok(on.ops.some(isMesh), 'auto adds them');
  assert.deepEqual(
    off.ops,
    on.ops.filter((o) => !isMesh(o)),
  );
  // The webhook and `inject` normalize their options once at start and hand those on: still off.
  const normalized = normalizeInjectOptions({ ...OPTIONS, meshExclusions: 'off' });
  assert.deepEqual(buildInjection(pod, artifacts, normalized).ops, off.ops, 'off survives normalization');
  assert.deepEqual(normalizeInjectOptions(normalized), normalized, 'normalizing twice changes nothing');
});
