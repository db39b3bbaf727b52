import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { kubectlKustomize, kubectlUnavailable, objectKey, renderKustomization, sortedByKey, type KubeObject } from './kustomize.js';
import { storedNamespaceLabels, webhookCalled, type AdmissionAttributes } from './selectors.js';
import { MANIFESTS_DIR, kubeSchemaError, only } from './support.js';

const KUBECTL_MISSING = kubectlUnavailable();
const kubectlSkip = KUBECTL_MISSING === undefined ? false : `${KUBECTL_MISSING}: kubectl kustomize check skipped`;
const ENABLED = { 'camel.apache.org/oci-injection': 'enabled' };

/** An overlay of manifests/install that installs into `namespace`, as a platform team would write it. */
async function namespaceOverlay(t: test.TestContext, namespace: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-namespace-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const overlay = path.join(dir, 'overlay');
  await mkdir(overlay);
  await writeFile(
    path.join(overlay, 'kustomization.yaml'),
    stringify({ namespace, resources: [path.relative(overlay, path.join(MANIFESTS_DIR, 'install'))] }),
  );
  return overlay;
}

function request(entry: KubeObject, namespace: string, labels: Record<string, string>): AdmissionAttributes {
  const pods = entry.clientConfig.service.path === '/mutate';
  return {
    operation: 'CREATE',
    group: pods ? '' : 'camel.apache.org',
    version: 'v1',
    resource: pods ? 'pods' : 'integrations',
    namespaceLabels: storedNamespaceLabels(namespace, labels),
    objectLabels: pods ? { 'camel.apache.org/integration': 'hello' } : undefined,
  };
}

test('installed into another namespace with a kustomize namespace: overlay, both entries exclude that namespace, not the literal camel-oci', async (t) => {
  const objects = renderKustomization(await namespaceOverlay(t, 'platform-hooks'));
  const ns = only(objects, 'Namespace');
  assert.equal(ns.metadata.name, 'platform-hooks');
  for (const o of objects) if (o.kind !== 'Role' && o.kind !== 'RoleBinding') assert.equal(kubeSchemaError(o), undefined, objectKey(o));
  const service = only(objects, 'Service');
  assert.equal(service.metadata.namespace, 'platform-hooks');
  const entries = only(objects, 'MutatingWebhookConfiguration').webhooks as KubeObject[];
  assert.equal(entries.length, 2);
  for (const entry of entries) {
    assert.equal(entry.clientConfig.service.namespace, 'platform-hooks', 'the apiserver calls the moved Service');
    const own = { ...(ns.metadata.labels as Record<string, string>), ...ENABLED };
    assert.equal(
      webhookCalled(entry, request(entry, 'platform-hooks', own)),
      false,
      `${entry.name as string}: its own namespace, even labelled enabled`,
    );
    assert.equal(
      webhookCalled(entry, request(entry, 'camel-oci', ENABLED)),
      true,
      `${entry.name as string}: a user namespace named camel-oci is an ordinary namespace now`,
    );
    assert.equal(webhookCalled(entry, request(entry, 'demo', ENABLED)), true);
    assert.ok(!JSON.stringify(entry.namespaceSelector).includes('camel-oci'), 'no namespace name in the selector');
  }
  // The webhook's identity follows too: its RoleBinding and ClusterRoleBindings name the moved ServiceAccount.
  const sa = only(objects, 'ServiceAccount');
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'platform-hooks' }], objectKey(b));
  }
});

test('kubectl kustomize renders the namespace overlay the same way', { skip: kubectlSkip }, async (t) => {
  const overlay = await namespaceOverlay(t, 'platform-hooks');
  assert.deepEqual(sortedByKey(kubectlKustomize(overlay)), sortedByKey(renderKustomization(overlay)));
});

test('the renderer moves only what kustomize moves: references to objects outside the kustomization stay', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-namespace-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'kustomization.yaml'), stringify({ namespace: 'moved', resources: ['objects.yaml'] }));
  await writeFile(
    path.join(dir, 'objects.yaml'),
    [
      stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a', namespace: 'x' } }),
      stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'b' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'r' },
        subjects: [
          { kind: 'ServiceAccount', name: 'a', namespace: 'x' },
          { kind: 'ServiceAccount', name: 'other', namespace: 'x' },
          { kind: 'User', name: 'bob' },
        ],
      }),
    ].join('---\n'),
  );
  const objects = renderKustomization(dir);
  assert.equal(only(objects, 'ServiceAccount').metadata.namespace, 'moved');
  assert.deepEqual(only(objects, 'ClusterRoleBinding').subjects, [
    { kind: 'ServiceAccount', name: 'a', namespace: 'moved' },
    { kind: 'ServiceAccount', name: 'other', namespace: 'x' },
    { kind: 'User', name: 'bob' },
  ]);
  assert.equal(only(objects, 'ClusterRoleBinding').metadata.namespace, undefined);
  if (kubectlSkip === false) assert.deepEqual(sortedByKey(kubectlKustomize(dir)), sortedByKey(objects));
});
