import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { stringify } from 'yaml';
import { envName, parseFlags } from '../../src/config/flags.js';
import { SERVE_FLAGS } from '../../src/config/tables.js';
import { createLogger } from '../../src/base/logger.js';
import { serviceDnsNames } from '../../src/certs/x509.js';
import { startSelfManagedCertificates } from '../../src/kube/self-managed-certs.js';
import { issueServerCert, makeTestCa } from '../helpers/test-ca.js';
import { startObjectApiserver } from '../kube/fake-object-apiserver.js';
import { INSTALL_FILE, renderInstallYaml } from './install-file.js';
import {
  kubectlKustomize,
  kubectlUnavailable,
  objectKey,
  parseYamlStream,
  renderKustomization,
  sortedByKey,
  type KubeObject,
} from './kustomize.js';
import { MANIFESTS_DIR, kubeSchemaError, only } from './support.js';
import { eventually } from '../helpers/eventually.js';

const KUBECTL_MISSING = kubectlUnavailable();
const kubectlSkip = KUBECTL_MISSING === undefined ? false : `${KUBECTL_MISSING}: kubectl kustomize check skipped`;

let objects: KubeObject[];

before(async () => {
  objects = parseYamlStream(await readFile(INSTALL_FILE, 'utf8'), INSTALL_FILE);
});

test('manifests/install.yaml is up to date with manifests/install (run `npm run manifests` after editing manifests/)', async () => {
  assert.equal(await readFile(INSTALL_FILE, 'utf8'), renderInstallYaml());
});

test('kubectl kustomize renders manifests/install to the same objects as install.yaml', { skip: kubectlSkip }, () => {
  assert.deepEqual(sortedByKey(kubectlKustomize(path.join(MANIFESTS_DIR, 'install'))), sortedByKey(objects));
});

test('install.yaml holds everything for a fresh cluster, namespace first and the webhook configuration last, and every object validates', () => {
  assert.deepEqual(objects.map(objectKey), [
    '/Namespace//camel-oci',
    '/ServiceAccount/camel-oci/camel-oci',
    'rbac.authorization.k8s.io/ClusterRole//camel-oci',
    'rbac.authorization.k8s.io/ClusterRole//camel-oci-webhook-configuration',
    'rbac.authorization.k8s.io/ClusterRoleBinding//camel-oci',
    'rbac.authorization.k8s.io/ClusterRoleBinding//camel-oci-webhook-configuration',
    'rbac.authorization.k8s.io/Role/camel-oci/camel-oci-certificates',
    'rbac.authorization.k8s.io/RoleBinding/camel-oci/camel-oci-certificates',
    '/Service/camel-oci/camel-oci',
    'apps/Deployment/camel-oci/camel-oci',
    'policy/PodDisruptionBudget/camel-oci/camel-oci',
    'admissionregistration.k8s.io/MutatingWebhookConfiguration//camel-oci',
  ]);
  for (const o of objects) {
    if (o.kind === 'Role') new Role(o as never).validate();
    else if (o.kind === 'RoleBinding') new RoleBinding(o as never).validate();
    else assert.equal(kubeSchemaError(o), undefined, objectKey(o));
  }
  assert.equal(objects.filter((o) => o.kind === 'Secret').length, 0, 'no key material in the file: the webhook makes it');
});

test('the Deployment runs serve in self-managed mode, with no Secret volume, and the webhook configuration has no caBundle to blank', () => {
  const deployment = only(objects, 'Deployment', 'camel-oci');
  const pod = deployment.spec.template.spec as KubeObject;
  const [container] = pod.containers as KubeObject[];
  const env = Object.fromEntries(((container!.env ?? []) as KubeObject[]).map((e) => [e.name as string, e.value as string]));
  for (const name of Object.keys(env))
    assert.ok(
      Object.keys(SERVE_FLAGS).some((f) => envName(f) === name),
      name,
    );
  const flags = parseFlags('serve', SERVE_FLAGS, (container!.args as string[]).slice(1), env, true).values;
  assert.equal((container!.args as string[])[0], 'serve');
  assert.equal(flags.certificates, 'self-managed');
  assert.equal(flags['tls-cert'], undefined);
  assert.equal(flags['tls-secret'], 'camel-oci-tls');
  assert.equal(flags['webhook-configuration'], only(objects, 'MutatingWebhookConfiguration').metadata.name);
  assert.equal(flags['tls-service'], only(objects, 'Service').metadata.name);
  assert.equal(container!.volumeMounts, undefined);
  assert.equal(pod.volumes, undefined, 'a Secret volume of a Secret that does not exist yet would keep the pod from starting');
  assert.equal(pod.automountServiceAccountToken, true, 'the loop talks to the apiserver with the ServiceAccount token');
  for (const w of only(objects, 'MutatingWebhookConfiguration').webhooks as KubeObject[]) {
    // Absent, not "": re-applying the file with kubectl apply then leaves the webhook's bundle alone.
    assert.equal(w.clientConfig.caBundle, undefined);
  }
});

/** One API request as RBAC sees it. */
interface Access {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * Whether the RBAC objects grant `access` to ServiceAccount camel-oci/camel-oci, as the RBAC
 * authorizer decides: some rule of a bound (Cluster)Role matches verb, group, resource and, when
 * the rule lists resourceNames, the name (a create has no name, so never matches such a rule).
 */
function allowed(rbac: readonly KubeObject[], access: Access): boolean {
  const isSubject = (b: KubeObject): boolean =>
    ((b.subjects ?? []) as KubeObject[]).some((s) => s.kind === 'ServiceAccount' && s.name === 'camel-oci' && s.namespace === 'camel-oci');
  const roles: KubeObject[] = [];
  for (const b of rbac.filter((o) => (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') && isSubject(o))) {
    if (b.kind === 'RoleBinding' && b.metadata.namespace !== access.namespace) continue;
    const role = rbac.find(
      (r) =>
        r.kind === b.roleRef.kind &&
        r.metadata.name === b.roleRef.name &&
        (r.kind === 'ClusterRole' || r.metadata.namespace === b.metadata.namespace),
    );
    if (role !== undefined) roles.push(role);
  }
  return roles.some((r) =>
    ((r.rules ?? []) as KubeObject[]).some(
      (rule) =>
        (rule.verbs as string[]).includes(access.verb) &&
        (rule.apiGroups as string[]).includes(access.group) &&
        (rule.resources as string[]).includes(access.resource) &&
        (rule.resourceNames === undefined || (access.name !== undefined && (rule.resourceNames as string[]).includes(access.name))),
    ),
  );
}

/** The RBAC access of one request to the apiserver, from its method and path. */
function accessOf(method: string, p: string): Access {
  const secret = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(p);
  const verb =
    ({ GET: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? method;
  if (secret !== null)
    return { verb, group: '', resource: 'secrets', namespace: secret[1]!, ...(secret[2] === undefined ? {} : { name: secret[2] }) };
  const mwc = /^\/apis\/admissionregistration\.k8s\.io\/v1\/mutatingwebhookconfigurations\/([^/]+)$/.exec(p);
  if (mwc !== null) return { verb, group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: mwc[1]! };
  throw new Error(`unexpected request ${method} ${p}`);
}

test('RBAC grants the certificate loop exactly its requests: what it does is allowed, its neighbours are not', async (t) => {
  const rbac = objects.filter((o) => String(o.apiVersion).startsWith('rbac.authorization.k8s.io/'));
  // Every request a real loop makes (create, bundle patch, reads) against the stand-in apiserver.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-install-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await makeTestCa(dir);
  const cert = await issueServerCert(ca);
  const api = await startObjectApiserver({ certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem, token: 't' });
  t.after(() => api.close());
  api.putWebhookConfiguration(only(objects, 'MutatingWebhookConfiguration'));
  let served = 0;
  const loop = startSelfManagedCertificates({
    kubeConfig: api.kubeConfig(),
    namespace: 'camel-oci',
    secretName: 'camel-oci-tls',
    webhookName: 'camel-oci',
    service: 'camel-oci',
    logger: createLogger({ level: 'silent' }),
    serve: () => void served++,
    recheckMs: 200,
  });
  t.after(() => loop.stop());
  await eventually(() => loop.ready(), { stepMs: 25 });
  assert.ok(loop.ready());
  // Plus an update, as a rotation makes.
  const made = [
    ...api.requests.map((r) => accessOf(r.method, r.path)),
    accessOf('PUT', '/api/v1/namespaces/camel-oci/secrets/camel-oci-tls'),
  ];
  assert.deepEqual([...new Set(made.map((a) => a.verb))].sort(), ['create', 'get', 'patch', 'update']);
  for (const a of made) assert.ok(allowed(rbac, a), `allowed: ${JSON.stringify(a)}`);
  const refused: Access[] = [
    { verb: 'update', group: '', resource: 'secrets', namespace: 'camel-oci', name: 'other' },
    // Verbs the loop never uses on its own objects: the Secret is replaced (PUT), the bundle patched.
    { verb: 'patch', group: '', resource: 'secrets', namespace: 'camel-oci', name: 'camel-oci-tls' },
    { verb: 'update', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'camel-oci' },
    { verb: 'delete', group: '', resource: 'secrets', namespace: 'camel-oci', name: 'camel-oci-tls' },
    { verb: 'list', group: '', resource: 'secrets', namespace: 'camel-oci' },
    { verb: 'create', group: '', resource: 'secrets', namespace: 'integrations' },
    { verb: 'update', group: '', resource: 'secrets', namespace: 'integrations', name: 'camel-oci-tls' },
    { verb: 'patch', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'other' },
    { verb: 'patch', group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', name: 'camel-oci' },
    { verb: 'create', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations' },
  ];
  for (const a of refused) assert.equal(allowed(rbac, a), false, `refused: ${JSON.stringify(a)}`);
});

/** The cert-manager overlay as the README shows it: the base plus the component. */
async function certManagerOverlay(t: test.TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-cert-manager-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const overlay = path.join(dir, 'overlay');
  await mkdir(overlay);
  const rel = path.relative(overlay, MANIFESTS_DIR);
  await writeFile(path.join(overlay, 'kustomization.yaml'), stringify({ resources: [`${rel}/base`], components: [`${rel}/cert-manager`] }));
  return overlay;
}

test('the cert-manager component: a CA Issuer chain, a Certificate for the Service names writing the mounted Secret, and inject-ca-from', async (t) => {
  const rendered = renderKustomization(await certManagerOverlay(t));
  const base = renderKustomization(path.join(MANIFESTS_DIR, 'base'));
  const certManager = rendered.filter((o) => String(o.apiVersion) === 'cert-manager.io/v1');
  assert.deepEqual(certManager.map(objectKey).sort(), [
    'cert-manager.io/Certificate/camel-oci/camel-oci',
    'cert-manager.io/Certificate/camel-oci/camel-oci-ca',
    'cert-manager.io/Issuer/camel-oci/camel-oci-ca',
    'cert-manager.io/Issuer/camel-oci/camel-oci-selfsigned',
  ]);
  for (const o of rendered.filter((x) => !certManager.includes(x))) assert.equal(kubeSchemaError(o), undefined, objectKey(o));
  const service = only(rendered, 'Service');
  const deployment = only(rendered, 'Deployment');
  const volume = (deployment.spec.template.spec.volumes as KubeObject[]).find((v) => v.secret !== undefined);
  const serving = only(rendered, 'Certificate', 'camel-oci');
  assert.equal(serving.metadata.namespace, service.metadata.namespace);
  assert.deepEqual(serving.spec.dnsNames, serviceDnsNames(service.metadata.name, service.metadata.namespace));
  assert.equal(serving.spec.secretName, volume?.secret.secretName, 'cert-manager writes the Secret the Deployment mounts');
  assert.ok(serving.spec.usages.includes('server auth'));
  // The chain: serving <- CA Issuer <- CA Certificate <- self-signed Issuer, all in the Service's namespace.
  const issuerOf = (c: KubeObject): KubeObject => {
    assert.equal(c.spec.issuerRef.kind, 'Issuer');
    return only(
      rendered.filter((o) => o.metadata.namespace === c.metadata.namespace),
      'Issuer',
      c.spec.issuerRef.name,
    );
  };
  const caIssuer = issuerOf(serving);
  const caCert = rendered.find((o) => o.kind === 'Certificate' && o.spec.secretName === caIssuer.spec.ca?.secretName);
  assert.ok(caCert, "the CA Issuer signs with a Certificate's Secret");
  assert.equal(caCert.spec.isCA, true);
  assert.equal(caCert.spec.privateKey?.rotationPolicy, 'Never', 'a renewed CA keeps its key, so it still verifies what pods serve');
  assert.deepEqual(issuerOf(caCert).spec, { selfSigned: {} });
  // Renewal before expiry, and at most at two thirds of the life as the self-managed mode does.
  const hours = (d: string): number => Number(/^(\d+)h$/.exec(d)?.[1] ?? NaN);
  assert.ok(hours(serving.spec.renewBefore) >= hours(serving.spec.duration) / 3);
  const mwc = only(rendered, 'MutatingWebhookConfiguration');
  assert.equal(mwc.metadata.annotations['cert-manager.io/inject-ca-from'], `${serving.metadata.namespace}/${serving.metadata.name}`);
  // Nothing else changed: the base stays in file mode, mounting the Secret.
  for (const o of base) assert.deepEqual(only(rendered, o.kind, o.metadata.name), o.kind === 'MutatingWebhookConfiguration' ? mwc : o);
  assert.deepEqual(
    { ...mwc, metadata: { ...mwc.metadata, annotations: undefined } },
    {
      ...only(base, 'MutatingWebhookConfiguration'),
      metadata: { ...only(base, 'MutatingWebhookConfiguration').metadata, annotations: undefined },
    },
  );
});

test('kubectl kustomize renders the cert-manager overlay the same way', { skip: kubectlSkip }, async (t) => {
  const overlay = await certManagerOverlay(t);
  assert.deepEqual(sortedByKey(kubectlKustomize(overlay)), sortedByKey(renderKustomization(overlay)));
});
