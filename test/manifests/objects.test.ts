import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { envName, parseFlags } from '../../src/config/flags.js';
import { SERVE_FLAGS } from '../../src/config/tables.js';
import { DEFAULT_SECRET_NAME } from '../../src/certs/command.js';
import { FETCH_COMMAND } from '../../src/inject/fetcher.js';
import { renderKustomization } from './kustomize.js';
import type { KubeObject } from './kustomize.js';
import { matchesLabelSelector } from './selectors.js';
import { installTree, only } from './support.js';
import type { InstallTree } from './support.js';

let tree: InstallTree;
let objects: KubeObject[];
let deployment: KubeObject;
let podSpec: KubeObject;
let webhook: KubeObject;

before(async () => {
  tree = await installTree();
  objects = renderKustomization(tree.manifests);
  deployment = only(objects, 'Deployment', 'camel-oci');
  podSpec = deployment.spec.template.spec as KubeObject;
  const container = (podSpec.containers as KubeObject[]).find((c) => c.name === 'webhook');
  assert.ok(container, 'a container named webhook');
  webhook = container;
});
after(() => tree.cleanup());

/** The serve flags the webhook container ends up with, parsed by the CLI's own parser from its args and env. */
function serveFlags(container: KubeObject): Readonly<Record<string, unknown>> {
  const args = container.args as string[];
  assert.equal(args[0], 'serve', 'the container runs camel-oci serve');
  const env = Object.fromEntries(((container.env ?? []) as KubeObject[]).map((e) => [e.name as string, e.value as string]));
  for (const name of Object.keys(env)) {
    assert.ok(
      Object.keys(SERVE_FLAGS).some((flag) => envName(flag) === name),
      `${name} is the variable of a serve flag (else serve ignores it)`,
    );
  }
  const parsed = parseFlags('serve', SERVE_FLAGS, args.slice(1), env, true);
  assert.deepEqual(parsed.positionals, [], 'serve takes no arguments');
  return parsed.values;
}

test('the Deployment runs 2 replicas of camel-oci serve, rolling without ever dropping below 2', () => {
  assert.equal(deployment.spec.replicas, 2);
  assert.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  assert.equal(podSpec.containers.length, 1);
  assert.equal(podSpec.initContainers, undefined);
  // The image's ENTRYPOINT is camel-oci, so args are its argv; the injected fetcher instead sets command.
  assert.equal(webhook.command, undefined);
  assert.equal(FETCH_COMMAND[0], 'camel-oci', 'the fetcher relies on camel-oci being on the image PATH (Dockerfile)');
});

test('serve gets its TLS files from the mounted Secret, its port matches the container port, and --fetcher-image is its own image', () => {
  const flags = serveFlags(webhook);
  const mount = (webhook.volumeMounts as KubeObject[]).find((m) => m.name === 'tls');
  assert.ok(mount, 'a tls volume mount');
  assert.equal(mount.readOnly, true);
  assert.equal(mount.subPath, undefined, 'a Secret mounted with subPath never sees updates, so certificate rotation would need a restart');
  assert.equal(flags['tls-cert'], path.posix.join(mount.mountPath as string, 'tls.crt'));
  assert.equal(flags['tls-key'], path.posix.join(mount.mountPath as string, 'tls.key'));
  const volume = (podSpec.volumes as KubeObject[]).find((v) => v.name === 'tls');
  assert.equal(volume?.secret?.secretName, DEFAULT_SECRET_NAME);
  assert.equal(volume?.secret?.items, undefined, 'all keys, as camel-oci certs names them');
  const secret = only(objects, 'Secret', DEFAULT_SECRET_NAME);
  assert.ok('tls.crt' in secret.data && 'tls.key' in secret.data, 'the Secret has the keys the flags name');
  // 0440 with fsGroup: readable by the webhook's group, nobody else.
  assert.equal(volume?.secret?.defaultMode, 0o440);
  assert.equal(podSpec.securityContext.fsGroup, podSpec.securityContext.runAsGroup);
  const port = (webhook.ports as KubeObject[]).find((p) => p.name === 'https');
  assert.equal(String(port?.containerPort), flags.port, 'serve listens where the Service sends traffic');
  // serve's own default is off; the Deployment turns the plain listener on at the port it names.
  const metrics = (webhook.ports as KubeObject[]).find((p) => p.name === 'metrics');
  assert.equal(String(metrics?.containerPort), flags['metrics-port'], 'serve serves plain /metrics where the port named metrics says');
  assert.equal(flags['fetcher-image'], webhook.image);
  assert.equal(flags.address, undefined, 'serve listens on all addresses when given a certificate');
});

test('readiness probes /readyz and liveness /healthz over HTTPS on the serving port', () => {
  const expectProbe = (probe: KubeObject | undefined, pathName: string): void => {
    assert.ok(probe, `a probe for ${pathName}`);
    assert.deepEqual(probe.httpGet, { path: pathName, port: 'https', scheme: 'HTTPS' });
  };
  expectProbe(webhook.readinessProbe, '/readyz');
  expectProbe(webhook.livenessProbe, '/healthz');
  assert.ok(webhook.livenessProbe.periodSeconds * webhook.livenessProbe.failureThreshold >= 20, 'liveness tolerates a slow moment');
});

test('resources have requests and limits', () => {
  for (const kind of ['requests', 'limits']) {
    assert.ok(webhook.resources?.[kind]?.cpu, `${kind}.cpu`);
    assert.ok(webhook.resources?.[kind]?.memory, `${kind}.memory`);
  }
});

/**
 * The Pod Security Standards "restricted" profile (with "baseline" under it), which the camel-oci
 * Namespace enforces: returns what a pod spec violates.
 */
function restrictedViolations(spec: KubeObject): string[] {
  const out: string[] = [];
  const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
  for (const v of (spec.volumes ?? []) as KubeObject[]) {
    const type = Object.keys(v).filter((k) => k !== 'name');
    if (!type.every((k) => allowedVolumes.includes(k))) out.push(`volume ${v.name}: ${type.join(',')}`);
  }
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[f] === true) out.push(f);
  const podSc = (spec.securityContext ?? {}) as KubeObject;
  for (const c of [...((spec.initContainers ?? []) as KubeObject[]), ...(spec.containers as KubeObject[])]) {
    const sc = (c.securityContext ?? {}) as KubeObject;
    if (sc.privileged === true) out.push(`${c.name}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation not false`);
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) out.push(`${c.name}: runAsNonRoot not true`);
    const uid = sc.runAsUser ?? podSc.runAsUser;
    if (typeof uid !== 'number' || uid === 0) out.push(`${c.name}: runAsUser must be a numeric non-root UID`);
    const seccomp = (sc.seccompProfile ?? podSc.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${c.name}: seccomp ${String(seccomp)}`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${c.name}: capabilities not dropped`);
    if ((sc.capabilities?.add ?? []).some((cap: string) => cap !== 'NET_BIND_SERVICE')) out.push(`${c.name}: capabilities added`);
    if (((c.ports ?? []) as KubeObject[]).some((p) => p.hostPort !== undefined)) out.push(`${c.name}: hostPort`);
  }
  return out;
}

test('the pod meets the restricted Pod Security Standard its namespace enforces, with a read-only root filesystem', () => {
  assert.deepEqual(restrictedViolations(podSpec), []);
  // The check itself tells a root, escalating pod apart.
  const loose = structuredClone(podSpec);
  delete loose.securityContext;
  loose.containers[0].securityContext = { privileged: true };
  assert.ok(restrictedViolations(loose).length >= 5);
  assert.equal(webhook.securityContext.readOnlyRootFilesystem, true);
  assert.equal(podSpec.securityContext.runAsNonRoot, true);
  assert.equal(podSpec.securityContext.runAsUser, 65532);
  const ns = only(objects, 'Namespace', 'camel-oci');
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
});

test('only the webhook pod gets an API token, and its account may only get secrets and serviceaccounts', () => {
  const sa = only(objects, 'ServiceAccount', 'camel-oci');
  assert.equal(sa.automountServiceAccountToken, false);
  assert.equal(podSpec.serviceAccountName, 'camel-oci');
  assert.equal(podSpec.automountServiceAccountToken, true);
  const roles = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
  assert.equal(roles.length, 1, 'one role');
  assert.deepEqual(only(objects, 'ClusterRole', 'camel-oci').rules, [
    { apiGroups: [''], resources: ['secrets', 'serviceaccounts'], verbs: ['get'] },
  ]);
  const binding = only(objects, 'ClusterRoleBinding', 'camel-oci');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'camel-oci' });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
});

test('replicas spread across nodes, counting only pods of the same revision', () => {
  const constraints = (podSpec.topologySpreadConstraints ?? []) as KubeObject[];
  const byNode = constraints.find((c) => c.topologyKey === 'kubernetes.io/hostname');
  assert.ok(byNode, 'a spread constraint over kubernetes.io/hostname');
  assert.equal(byNode.maxSkew, 1);
  assert.equal(byNode.whenUnsatisfiable, 'DoNotSchedule');
  assert.deepEqual(byNode.matchLabelKeys, ['pod-template-hash']);
  assert.ok(matchesLabelSelector(byNode.labelSelector, deployment.spec.template.metadata.labels), "it counts the webhook's own pods");
});

test('selectors of the Deployment, Service and PodDisruptionBudget all pick the webhook pods', () => {
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  assert.ok(
    matchesLabelSelector(deployment.spec.selector, podLabels),
    'the apiserver rejects a Deployment whose selector misses its template',
  );
  const service = only(objects, 'Service', 'camel-oci');
  assert.ok(matchesLabelSelector({ matchLabels: service.spec.selector }, podLabels));
  const pdb = only(objects, 'PodDisruptionBudget', 'camel-oci');
  assert.ok(matchesLabelSelector(pdb.spec.selector, podLabels));
  assert.equal(pdb.spec.minAvailable, 1);
  assert.ok(pdb.spec.minAvailable < deployment.spec.replicas, 'a drain can still evict one pod');
  // Nothing else in the namespace would be selected by accident: the labels are specific to the webhook.
  assert.equal(podLabels['app.kubernetes.io/name'], 'camel-oci');
});

test('the Service sends 443 to the container port serve listens on', () => {
  const service = only(objects, 'Service', 'camel-oci');
  assert.equal(service.spec.ports.length, 1);
  const [port] = service.spec.ports as KubeObject[];
  assert.equal(port!.port, 443);
  const target = (webhook.ports as KubeObject[]).find((p) => p.name === port!.targetPort || p.containerPort === port!.targetPort);
  assert.equal(target?.containerPort, 8443);
  assert.equal(String(target?.containerPort), SERVE_FLAGS.port!.default, "serve's default port");
});

test('every namespaced object lives in the camel-oci namespace, which is installed too', () => {
  const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration']);
  for (const o of objects) {
    if (clusterScoped.has(o.kind as string)) assert.equal(o.metadata.namespace, undefined, `${o.kind} is cluster-scoped`);
    else assert.equal(o.metadata.namespace, 'camel-oci', `${o.kind} ${o.metadata.name}`);
  }
  only(objects, 'Namespace', 'camel-oci');
});
