import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { kubectlKustomize, kubectlUnavailable, objectKey, renderKustomization, sortedByKey } from './kustomize.js';
import type { KubeObject } from './kustomize.js';
import { matchesLabelSelector } from './selectors.js';
import type { Labels } from './selectors.js';
import { cloneTree, installTree, kubeSchemaError, MANIFESTS_DIR, only } from './support.js';
import type { InstallTree } from './support.js';

const KUBECTL_MISSING = kubectlUnavailable();
/** Where kubectl is missing (CI), only the kubectl comparisons are skipped, with this visible reason. */
const kubectlSkip = KUBECTL_MISSING === undefined ? false : `${KUBECTL_MISSING}: kubectl kustomize check skipped`;

/** The optional component, relative to manifests/. */
const COMPONENT = 'networkpolicy';

/** A pod as NetworkPolicy sees it: namespace, labels and named container ports. */
interface PolicyPod {
  readonly namespace: string;
  readonly labels: Labels;
  readonly namedPorts: Readonly<Record<string, number>>;
}

/** A connection to a pod, from a source the policy does not single out (no `from` peers simulated). */
interface Connection {
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/**
 * Whether ingress policies admit a connection to a pod, as the NetworkPolicy API defines it: a pod
 * no Ingress policy selects admits everything; a selected one admits only what some rule allows.
 * Rules with `from` peers throw: which sources they admit depends on the cluster, not on the manifest.
 */
function ingressAllowed(policies: readonly KubeObject[], pod: PolicyPod, conn: Connection): boolean {
  const selecting = policies.filter(
    (p) =>
      p.metadata.namespace === pod.namespace &&
      matchesLabelSelector(p.spec.podSelector, pod.labels) &&
      ((p.spec.policyTypes as string[] | undefined) ?? ['Ingress']).includes('Ingress'),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    ((p.spec.ingress ?? []) as KubeObject[]).some((rule) => {
      if (rule.from !== undefined && (rule.from as unknown[]).length > 0) throw new Error('from peers are not simulated');
      const ports = (rule.ports ?? []) as KubeObject[];
      return ports.length === 0 || ports.some((rp) => portMatches(rp, pod, conn));
    }),
  );
}

function portMatches(rp: KubeObject, pod: PolicyPod, conn: Connection): boolean {
  if (((rp.protocol as string | undefined) ?? 'TCP') !== conn.protocol) return false;
  if (rp.port === undefined) return true;
  const first = typeof rp.port === 'number' ? rp.port : pod.namedPorts[String(rp.port)];
  if (first === undefined) return false;
  return conn.port >= first && conn.port <= ((rp.endPort as number | undefined) ?? first);
}

let tree: InstallTree;
let withPolicy: InstallTree;
let defaultObjects: KubeObject[];
let objects: KubeObject[];
let policy: KubeObject;
let webhookPod: PolicyPod;

before(async () => {
  tree = await installTree();
  defaultObjects = renderKustomization(tree.manifests);
  // The README's way: the component added to manifests/kustomization.yaml.
  withPolicy = await cloneTree(tree);
  const file = path.join(withPolicy.manifests, 'kustomization.yaml');
  const k = parse(await readFile(file, 'utf8')) as KubeObject;
  k.components = [...(k.components as string[]), COMPONENT];
  await writeFile(file, stringify(k));
  objects = renderKustomization(withPolicy.manifests);
  policy = only(objects, 'NetworkPolicy', 'camel-oci');
  const deployment = only(objects, 'Deployment', 'camel-oci');
  const container = (deployment.spec.template.spec.containers as KubeObject[]).find((c) => c.name === 'webhook');
  assert.ok(container, 'a container named webhook');
  webhookPod = {
    namespace: deployment.metadata.namespace as string,
    labels: deployment.spec.template.metadata.labels as Record<string, string>,
    namedPorts: Object.fromEntries(((container.ports ?? []) as KubeObject[]).map((p) => [p.name as string, p.containerPort as number])),
  };
});
after(async () => {
  await withPolicy.cleanup();
  await tree.cleanup();
});

test('the default install and the base contain no NetworkPolicy', () => {
  assert.deepEqual(
    defaultObjects.filter((o) => o.kind === 'NetworkPolicy'),
    [],
  );
  assert.deepEqual(
    renderKustomization(path.join(tree.manifests, 'base')).filter((o) => o.kind === 'NetworkPolicy'),
    [],
  );
});

test('with the networkpolicy component, the install is the default install plus one NetworkPolicy, which validates', () => {
  assert.deepEqual(
    objects.map(objectKey).sort(),
    [...defaultObjects.map(objectKey), 'networking.k8s.io/NetworkPolicy/camel-oci/camel-oci'].sort(),
  );
  for (const o of objects)
    if (o.kind !== 'NetworkPolicy')
      assert.deepEqual(o, only(defaultObjects, o.kind as string, o.metadata.name as string), 'the rest unchanged');
  assert.equal(kubeSchemaError(policy), undefined);
  // The schema check notices a malformed policy, so its silence above means something.
  assert.match(kubeSchemaError({ ...policy, spec: { ...policy.spec, policyTypes: 'Ingress' } }) ?? '', /policyTypes/);
});

test('kubectl kustomize renders the component the same way, in manifests/ and in an overlay', { skip: kubectlSkip }, async () => {
  assert.deepEqual(sortedByKey(kubectlKustomize(withPolicy.manifests)), sortedByKey(objects));
  const overlay = path.join(tree.root, 'overlay-networkpolicy');
  await mkdir(overlay, { recursive: true });
  await writeFile(
    path.join(overlay, 'kustomization.yaml'),
    stringify({ resources: ['../manifests'], components: [`../manifests/${COMPONENT}`] }),
  );
  assert.deepEqual(sortedByKey(kubectlKustomize(overlay)), sortedByKey(objects));
});

test('the policy isolates exactly the webhook pods and admits TCP to the port serve listens on, from anywhere', () => {
  assert.equal(policy.metadata.namespace, webhookPod.namespace);
  assert.deepEqual(policy.spec.policyTypes, ['Ingress'], 'egress stays open: the webhook calls the API server and registries');
  // The API server calls the Service on 443; NetworkPolicy sees the pod port the Service translates it to.
  const service = only(objects, 'Service', 'camel-oci');
  const target = service.spec.ports[0].targetPort as string | number;
  const servicePort = typeof target === 'number' ? target : webhookPod.namedPorts[target];
  assert.equal(servicePort, 8443);
  assert.equal(ingressAllowed([policy], webhookPod, { port: servicePort, protocol: 'TCP' }), true);
  assert.equal(
    ingressAllowed([policy], webhookPod, { port: 443, protocol: 'TCP' }),
    false,
    'the Service port never reaches the pod as such',
  );
  assert.equal(ingressAllowed([policy], webhookPod, { port: 8443, protocol: 'UDP' }), false);
  assert.equal(ingressAllowed([policy], webhookPod, { port: 9090, protocol: 'TCP' }), false);
  // Nothing else is isolated by it: other pods of the namespace, or webhook-labelled pods elsewhere.
  assert.equal(
    ingressAllowed([policy], { ...webhookPod, labels: { 'app.kubernetes.io/name': 'other' } }, { port: 9090, protocol: 'TCP' }),
    true,
  );
  assert.equal(ingressAllowed([policy], { ...webhookPod, namespace: 'integrations' }, { port: 9090, protocol: 'TCP' }), true);
  // The selector is the Deployment's own, so a relabelled Deployment cannot silently escape it.
  assert.deepEqual(policy.spec.podSelector, only(objects, 'Deployment', 'camel-oci').spec.selector);
});

test('the commented example narrowing from to the control-plane CIDR, once uncommented, is a valid policy', async () => {
  const text = await readFile(path.join(MANIFESTS_DIR, COMPONENT, 'networkpolicy.yaml'), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\s*#\s+from:\s*$/.test(l));
  assert.ok(start >= 0, 'networkpolicy.yaml shows how to narrow from');
  const indent = /^(\s*#\s+)/.exec(lines[start]!)![1]!.length;
  const example: string[] = [];
  for (const l of lines.slice(start)) {
    if (!/^\s*#/.test(l) || l.length <= indent || l.slice(0, indent).trim() !== '#') break;
    example.push(l.slice(indent));
  }
  const from = (parse(example.join('\n')) as KubeObject).from as KubeObject[];
  const cidr = String(from[0]?.ipBlock?.cidr);
  const [address, bits] = cidr.split('/');
  assert.ok(net.isIP(address ?? '') !== 0 && Number(bits) >= 0 && Number(bits) <= 32, `${cidr} is a CIDR`);
  const narrowed = structuredClone(policy);
  narrowed.spec.ingress[0].from = from;
  assert.equal(kubeSchemaError(narrowed), undefined);
  assert.deepEqual(narrowed.spec.ingress[0].ports, policy.spec.ingress[0].ports, 'narrowing keeps the port');
});
