import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import test from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { parse, parseAllDocuments } from 'yaml';
import { CA_BUNDLE_PATCH_PATH, caBundleOf, renderCaBundlePatch, renderKustomization, renderTlsSecret } from '../../src/certs/render.js';
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

test('the caBundle patch sets webhooks[0].clientConfig.caBundle, whether or not the base has one', async () => {
  const bundle = await bundlePromise;
  const text = renderCaBundlePatch(bundle.caCertPem, 'camel-oci');
  const docs = parseAllDocuments(text);
  assert.equal(docs.length, 1, 'one YAML document');
  const ops = parse(text) as fastJsonPatch.Operation[];
  assert.deepEqual(ops, [{ op: 'add', path: CA_BUNDLE_PATCH_PATH, value: caBundleOf(bundle.caCertPem) }]);
  const bases = [
    { clientConfig: { service: { name: 'camel-oci', namespace: 'camel-oci', path: '/mutate' } } },
    { clientConfig: { service: { name: 'camel-oci', namespace: 'camel-oci', path: '/mutate' }, caBundle: 'b2xk' } },
  ];
  for (const webhook of bases) {
    const mwc: { webhooks: Array<{ clientConfig: { caBundle?: string; service: unknown } }> } & Record<string, unknown> = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'camel-oci' },
      webhooks: [webhook],
    };
    const patched: typeof mwc = fastJsonPatch.applyPatch(mwc, ops, true, false).newDocument;
    assert.equal(patched.webhooks[0]?.clientConfig.caBundle, caBundleOf(bundle.caCertPem));
    assert.deepEqual(patched.webhooks[0]?.clientConfig.service, webhook.clientConfig.service);
  }
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
