import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import test from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { parse, parseAllDocuments } from 'yaml';
import {
  CA_BUNDLE_PATCH_PATHS,
  WEBHOOK_ENTRY_COUNT,
  caBundleOf,
  renderCaBundlePatch,
  renderKustomization,
  renderTlsSecret,
} from '../../src/certs/render.js';
import { generateCa, issueServingCert } from '../../src/certs/x509.js';

const bundlePromise = generateCa({ commonName: 'render CA', validityDays: 2 }).then((ca) =>
  issueServingCert(ca, { service: 'camel-oci', namespace: 'camel-oci', validityDays: 1 }),
);

test('caBundle is base64 of the CA PEM on one line without a newline, and decodes to the CA', async () => {
  const bundle = await bundlePromise;
  const value = caBundleOf(bundle.caCertPem);
  assert.match(value, /^[A-Za-z0-9+/]+=*$/);
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  assert.equal(decoded, bundle.caCertPem);
  assert.equal(new X509Certificate(decoded).ca, true);
});

test('the Secret is a kubernetes.io/tls Secret in the namespace holding tls.crt, tls.key and ca.crt', async () => {
  const bundle = await bundlePromise;
  const secret = parse(renderTlsSecret(bundle, { secretName: 'camel-oci-tls', namespace: 'hooks' })) as {
    apiVersion: string;
    kind: string;
    type: string;
    metadata: { name: string; namespace: string };
    data: Record<string, string>;
  };
  assert.equal(secret.apiVersion, 'v1');
  assert.equal(secret.kind, 'Secret');
  assert.equal(secret.type, 'kubernetes.io/tls');
  assert.deepEqual(secret.metadata, { name: 'camel-oci-tls', namespace: 'hooks' });
  const decode = (k: string): string => Buffer.from(secret.data[k] ?? '', 'base64').toString('utf8');
  assert.equal(decode('tls.crt'), bundle.certPem);
  assert.equal(decode('tls.key'), bundle.keyPem);
  assert.equal(decode('ca.crt'), bundle.caCertPem);
});

test('the caBundle patch sets the caBundle of every webhook entry, whether or not the base has one', async () => {
  const bundle = await bundlePromise;
  const text = renderCaBundlePatch(bundle.caCertPem, 'camel-oci');
  const docs = parseAllDocuments(text);
  assert.equal(docs.length, 1, 'one YAML document');
  const ops = parse(text) as fastJsonPatch.Operation[];
  assert.equal(WEBHOOK_ENTRY_COUNT, 2, 'pods, then Integrations and Pipes');
  assert.deepEqual(CA_BUNDLE_PATCH_PATHS, ['/webhooks/0/clientConfig/caBundle', '/webhooks/1/clientConfig/caBundle']);
  assert.deepEqual(
    ops,
    CA_BUNDLE_PATCH_PATHS.map((path) => ({ op: 'add', path, value: caBundleOf(bundle.caCertPem) })),
  );
  const entry = (path: string, caBundle?: string): { clientConfig: { caBundle?: string; service: unknown } } => ({
    clientConfig: { service: { name: 'camel-oci', namespace: 'camel-oci', path }, ...(caBundle === undefined ? {} : { caBundle }) },
  });
  const bases = [
    [entry('/mutate'), entry('/mutate-integrations')],
    [entry('/mutate', 'b2xk'), entry('/mutate-integrations', 'b2xk')],
    [entry('/mutate', 'b2xk'), entry('/mutate-integrations')],
  ];
  for (const webhooks of bases) {
    const mwc = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'camel-oci' },
      webhooks: structuredClone(webhooks),
    };
    const patched: typeof mwc = fastJsonPatch.applyPatch(mwc, ops, true, false).newDocument;
    patched.webhooks.forEach((w, i) => {
      assert.equal(w.clientConfig.caBundle, caBundleOf(bundle.caCertPem), `entry ${i}`);
      assert.deepEqual(w.clientConfig.service, webhooks[i]!.clientConfig.service);
    });
  }
  // A configuration with one entry (an older base) fails the patch rather than half-trusting the CA.
  const old = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'camel-oci' },
    webhooks: [entry('/mutate')],
  };
  assert.throws(() => fastJsonPatch.applyPatch(old, ops, true, false));
});

test('the kustomization is a Component adding the Secret and targeting the named webhook configuration', () => {
  const k = parse(renderKustomization({ webhookName: 'my-hook' })) as {
    kind: string;
    resources: string[];
    patches: Array<{ path: string; target: Record<string, string> }>;
  };
  assert.equal(k.kind, 'Component');
  assert.deepEqual(k.resources, ['secret.yaml']);
  assert.deepEqual(k.patches, [
    {
      path: 'cabundle-patch.yaml',
      target: { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'MutatingWebhookConfiguration', name: 'my-hook' },
    },
  ]);
});
