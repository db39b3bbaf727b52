import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { certsCommand } from '../../src/certs/command.js';
import { CA_BUNDLE_PATCH_PATH } from '../../src/certs/render.js';
import { fixtureJson } from '../helpers/fixtures.js';
import { renderKustomization, splitApiVersion } from './kustomize.js';
import type { KubeObject } from './kustomize.js';
import { storedNamespaceLabels, webhookCalled } from './selectors.js';
import type { AdmissionAttributes, Labels } from './selectors.js';
import { installTree, only } from './support.js';
import type { InstallTree } from './support.js';

let tree: InstallTree;
let objects: KubeObject[];
let hook: KubeObject;
let service: KubeObject;

before(async () => {
  tree = await installTree();
  objects = renderKustomization(tree.manifests);
  const config = only(objects, 'MutatingWebhookConfiguration', 'camel-oci');
  assert.equal(config.webhooks.length, 1, 'one webhook: the caBundle patch targets webhooks/0');
  hook = config.webhooks[0] as KubeObject;
  service = only(objects, 'Service', 'camel-oci');
});
after(() => tree.cleanup());

test('the webhook is called for Pod CREATE only, on POST /mutate of the camel-oci Service, with the agreed policies', () => {
  assert.deepEqual(hook.rules, [
    { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
  ]);
  assert.deepEqual(hook.clientConfig.service, {
    name: service.metadata.name,
    namespace: service.metadata.namespace,
    path: '/mutate',
    port: 443,
  });
  assert.equal(hook.clientConfig.url, undefined);
  assert.deepEqual(hook.admissionReviewVersions, ['v1']);
  assert.equal(hook.sideEffects, 'None');
  assert.equal(hook.timeoutSeconds, 10);
  assert.equal(hook.reinvocationPolicy, 'IfNeeded');
  assert.equal(hook.failurePolicy, 'Fail');
  assert.deepEqual(hook.objectSelector, { matchExpressions: [{ key: 'camel.apache.org/integration', operator: 'Exists' }] });
  // The apiserver requires a fully qualified name of at least three segments.
  assert.match(hook.name as string, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?){2,}$/);
  assert.equal(CA_BUNDLE_PATCH_PATH, '/webhooks/0/clientConfig/caBundle');
});

const helloPod = fixtureJson<KubeObject>('camel-k-pods/camel-k-hello-pod.json');
const knativePod = fixtureJson<KubeObject>('camel-k-pods/camel-k-knative-pod.json');
const podWithout = (label: string): Labels => {
  const labels = { ...(helloPod.metadata.labels as Record<string, string>) };
  delete labels[label];
  return labels;
};
const ENABLED = { 'camel.apache.org/oci-injection': 'enabled' };

/** An admission request for a pod in a namespace; overrides for the odd ones. */
function podRequest(namespace: string, nsLabels: Labels, podLabels: Labels, over: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: 'CREATE',
    group: '',
    version: 'v1',
    resource: 'pods',
    namespaceLabels: storedNamespaceLabels(namespace, nsLabels),
    objectLabels: podLabels,
    ...over,
  };
}

/** Who reaches the webhook: the Camel K pods in a labelled namespace, and no other. */
const SELECTION_CASES: readonly { name: string; request: () => AdmissionAttributes; called: boolean }[] = [
  {
    name: 'the Camel K integration pod in a labelled namespace',
    request: () => podRequest(helloPod.metadata.namespace, ENABLED, helloPod.metadata.labels),
    called: true,
  },
  {
    name: 'the Knative-served integration pod in a labelled namespace',
    request: () => podRequest('demo', ENABLED, knativePod.metadata.labels),
    called: true,
  },
  {
    name: 'the integration pod in an unlabelled namespace',
    request: () => podRequest('demo', {}, helloPod.metadata.labels),
    called: false,
  },
  {
    name: 'the integration pod in a namespace labelled disabled',
    request: () => podRequest('demo', { 'camel.apache.org/oci-injection': 'disabled' }, helloPod.metadata.labels),
    called: false,
  },
  {
    name: 'the integration pod in a namespace labelled "true"',
    request: () => podRequest('demo', { 'camel.apache.org/oci-injection': 'true' }, helloPod.metadata.labels),
    called: false,
  },
  {
    name: 'an integration pod in camel-oci, even labelled enabled',
    request: () => podRequest('camel-oci', ENABLED, helloPod.metadata.labels),
    called: false,
  },
  {
    name: 'a pod without the integration label in a labelled namespace',
    request: () => podRequest('demo', ENABLED, podWithout('camel.apache.org/integration')),
    called: false,
  },
  { name: 'a pod without any label in a labelled namespace', request: () => podRequest('demo', ENABLED, undefined), called: false },
  {
    name: 'an UPDATE of the integration pod',
    request: () => podRequest('demo', ENABLED, helloPod.metadata.labels, { operation: 'UPDATE' }),
    called: false,
  },
  {
    name: 'a pods/binding CREATE (scheduling)',
    request: () => podRequest('demo', ENABLED, helloPod.metadata.labels, { subresource: 'binding' }),
    called: false,
  },
  {
    name: 'a pods/eviction CREATE (drain)',
    request: () => podRequest('demo', ENABLED, helloPod.metadata.labels, { subresource: 'eviction' }),
    called: false,
  },
  {
    name: 'a Deployment carrying the integration label (templates are never mutated)',
    request: () => podRequest('demo', ENABLED, helloPod.metadata.labels, { group: 'apps', resource: 'deployments' }),
    called: false,
  },
];

for (const c of SELECTION_CASES) {
  test(`webhook selection: ${c.name} -> ${c.called ? 'called' : 'not called'}`, () => {
    assert.equal(webhookCalled(hook, c.request()), c.called);
  });
}

test('the webhook never sees its own pods, even if someone labels its namespace for injection', () => {
  const ns = only(objects, 'Namespace', 'camel-oci');
  const template = only(objects, 'Deployment', 'camel-oci').spec.template.metadata.labels as Record<string, string>;
  for (const nsLabels of [ns.metadata.labels as Record<string, string>, { ...ns.metadata.labels, ...ENABLED }]) {
    for (const podLabels of [template, { ...template, 'camel.apache.org/integration': 'x' }]) {
      assert.equal(webhookCalled(hook, podRequest(ns.metadata.name, nsLabels, podLabels)), false);
    }
  }
  // Nor is it called for any object the install itself creates.
  for (const o of objects) {
    const [group, version] = splitApiVersion(o.apiVersion as string);
    const resource = `${(o.kind as string).toLowerCase()}s`;
    assert.equal(webhookCalled(hook, podRequest('camel-oci', ns.metadata.labels, o.metadata.labels, { group, version, resource })), false);
  }
});

/** The name the apiserver dials and verifies for a service-backed webhook: `<service>.<namespace>.svc`. */
function serviceDnsName(): string {
  return `${hook.clientConfig.service.name as string}.${hook.clientConfig.service.namespace as string}.svc`;
}

function secretFile(name: string): string {
  const secret = only(objects, 'Secret', 'camel-oci-tls');
  return Buffer.from(secret.data[name] as string, 'base64').toString('utf8');
}

test("the caBundle is the CA that issued the Secret's serving certificate for camel-oci.camel-oci.svc", async () => {
  assert.equal(serviceDnsName(), 'camel-oci.camel-oci.svc');
  const caPem = Buffer.from(hook.clientConfig.caBundle as string, 'base64').toString('utf8');
  assert.equal(caPem, await readFile(path.join(tree.certs, 'ca.crt'), 'utf8'));
  const ca = new X509Certificate(caPem);
  const cert = new X509Certificate(secretFile('tls.crt'));
  assert.ok(ca.ca, 'the bundle is a CA certificate');
  assert.ok(cert.checkIssued(ca), 'issued by the bundle CA');
  assert.ok(cert.verify(ca.publicKey), 'signed by the bundle CA');
  assert.equal(cert.checkHost(serviceDnsName()), serviceDnsName());
  assert.equal(cert.checkHost('camel-oci.other.svc'), undefined, 'only the webhook Service');
  const now = Date.now();
  assert.ok(new Date(cert.validFrom).getTime() <= now && now < new Date(cert.validTo).getTime(), 'valid now');
  const keyPublic = createPublicKey(createPrivateKey(secretFile('tls.key'))).export({ type: 'spki', format: 'der' });
  assert.deepEqual(keyPublic, cert.publicKey.export({ type: 'spki', format: 'der' }), 'tls.key belongs to tls.crt');
});

/** Serves the Secret's certificate on loopback and connects as the apiserver would; resolves with the TLS outcome. */
async function handshake(ca: string, servername: string): Promise<{ authorized: boolean; error?: string }> {
  const server = tls.createServer({ cert: secretFile('tls.crt'), key: secretFile('tls.key') }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: true }, () => {
        resolve({ authorized: socket.authorized });
        socket.destroy();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve({ authorized: false, error: err.code ?? err.message }));
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a TLS client trusting only the caBundle accepts the served certificate for the Service name, and nothing else', async (t) => {
  const caPem = Buffer.from(hook.clientConfig.caBundle as string, 'base64').toString('utf8');
  assert.deepEqual(await handshake(caPem, serviceDnsName()), { authorized: true });
  const wrongName = await handshake(caPem, 'camel-oci.default.svc');
  assert.equal(wrongName.authorized, false);
  assert.equal(wrongName.error, 'ERR_TLS_CERT_ALTNAME_INVALID');
  // Another run of camel-oci certs makes another CA: the bundle must be the one of this Secret.
  const other = await installTree({ withCerts: false });
  t.after(() => other.cleanup());
  const otherCa = (await certsCommand({ out: other.certs }, { log: () => undefined })).caBundle;
  const wrongCa = await handshake(Buffer.from(otherCa, 'base64').toString('utf8'), serviceDnsName());
  assert.equal(wrongCa.authorized, false);
  assert.ok(wrongCa.error, 'the handshake fails');
});
