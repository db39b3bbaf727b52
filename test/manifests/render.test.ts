import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { schemaErrors } from '../inject/support.js';
import { defaultFetcherImage } from '../../src/config/fetcher.js';
import { kubectlKustomize, kubectlUnavailable, objectKey, parseImage, renderKustomization, sortedByKey } from './kustomize.js';
import type { KubeObject } from './kustomize.js';
import { cloneTree, installTree, kubeSchemaError, only } from './support.js';
import type { InstallTree } from './support.js';

const KUBECTL_MISSING = kubectlUnavailable();
/** Where kubectl is missing (CI), only the kubectl comparisons are skipped, with this visible reason. */
const kubectlSkip = KUBECTL_MISSING === undefined ? false : `${KUBECTL_MISSING}: kubectl kustomize check skipped`;

/** What `kubectl apply -k manifests/` installs, and nothing else. */
const EXPECTED_OBJECTS = [
  '/Namespace//camel-oci',
  '/ServiceAccount/camel-oci/camel-oci',
  'rbac.authorization.k8s.io/ClusterRole//camel-oci',
  'rbac.authorization.k8s.io/ClusterRoleBinding//camel-oci',
  'apps/Deployment/camel-oci/camel-oci',
  'policy/PodDisruptionBudget/camel-oci/camel-oci',
  '/Service/camel-oci/camel-oci',
  '/Secret/camel-oci/camel-oci-tls',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration//camel-oci',
].sort();

/**
 * The image the manifests install by default: the name serve falls back to for --fetcher-image
 * (`camel-oci:<version>`, src/config/fetcher.ts), tagged with this release's version.
 */
const RELEASE_IMAGE = `camel-oci:${(JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version}`;

let tree: InstallTree;
let rendered: KubeObject[];

before(async () => {
  tree = await installTree();
  rendered = renderKustomization(tree.manifests);
});
after(() => tree.cleanup());

function webhookImages(objects: readonly KubeObject[]): { image: string; fetcherImage: string | undefined } {
  const container = only(objects, 'Deployment', 'camel-oci').spec.template.spec.containers[0] as KubeObject;
  const env = (container.env ?? []) as KubeObject[];
  return {
    image: container.image as string,
    fetcherImage: env.find((e) => e.name === 'CAMEL_OCI_FETCHER_IMAGE')?.value as string | undefined,
  };
}

test('the install kustomization renders every base object plus the Secret and caBundle that camel-oci certs wrote', () => {
  assert.deepEqual(rendered.map(objectKey).sort(), EXPECTED_OBJECTS);
  const secret = only(rendered, 'Secret', 'camel-oci-tls');
  assert.equal(secret.type, 'kubernetes.io/tls');
  const hook = only(rendered, 'MutatingWebhookConfiguration', 'camel-oci');
  assert.equal(hook.webhooks[0].clientConfig.caBundle, tree.certsResult!.caBundle, 'caBundle is the one camel-oci certs printed');
});

test("kubectl kustomize renders exactly the same objects as the tests' own reading", { skip: kubectlSkip }, () => {
  assert.deepEqual(sortedByKey(kubectlKustomize(tree.manifests)), sortedByKey(rendered));
});

test('every rendered object validates against its Kubernetes schema', () => {
  for (const o of rendered) assert.equal(kubeSchemaError(o), undefined, objectKey(o));
  // The Deployment's pod template also against the strict Pod schema, which rejects unknown fields (typos).
  const template = only(rendered, 'Deployment').spec.template as KubeObject;
  assert.deepEqual(
    schemaErrors({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'camel-oci-x', ...template.metadata }, spec: template.spec }),
    [],
  );
});

test('the schema checks reject what the apiserver would reject (so their silence means something)', () => {
  const deployment = structuredClone(only(rendered, 'Deployment'));
  deployment.spec.replicas = 'two';
  assert.match(kubeSchemaError(deployment) ?? '', /replicas/);
  const hook = structuredClone(only(rendered, 'MutatingWebhookConfiguration'));
  hook.webhooks[0].timeoutSeconds = '10';
  assert.match(kubeSchemaError(hook) ?? '', /timeoutSeconds/);
  assert.match(kubeSchemaError({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }) ?? '', /no schema model/);
  const template = structuredClone(only(rendered, 'Deployment').spec.template as KubeObject);
  template.spec.containers[0].readinesProbe = template.spec.containers[0].readinessProbe;
  assert.notDeepEqual(schemaErrors({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: template.spec }), []);
});

test('the base renders alone, without any TLS material, for overlays that bring their own', async () => {
  const base = renderKustomization(path.join(tree.manifests, 'base'));
  assert.deepEqual(
    base.map(objectKey).sort(),
    EXPECTED_OBJECTS.filter((k) => !k.includes('/Secret/')),
  );
  assert.equal(only(base, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle, undefined);
  for (const o of base) assert.ok(!JSON.stringify(o).includes('PRIVATE KEY'), `${objectKey(o)} holds no key`);
});

test('the install kustomization refuses to render before camel-oci certs has run, naming the certs directory', async (t) => {
  const bare = await installTree({ withCerts: false });
  t.after(() => bare.cleanup());
  assert.throws(
    () => renderKustomization(bare.manifests),
    (err: Error) => err.message.includes(bare.certs),
  );
  if (kubectlSkip === false) assert.throws(() => kubectlKustomize(bare.manifests), /certs/);
});

test('the webhook image and --fetcher-image (CAMEL_OCI_FETCHER_IMAGE) are the same image, camel-oci:<version> by default', () => {
  assert.deepEqual(webhookImages(rendered), { image: RELEASE_IMAGE, fetcherImage: RELEASE_IMAGE });
  assert.equal(parseImage(defaultFetcherImage()).name, parseImage(RELEASE_IMAGE).name, 'the name serve defaults to');
});

/** One `images:` edit, and what both the webhook container and its fetcher image become. */
const IMAGE_EDITS = [
  {
    name: 'registry and tag',
    entry: { name: 'camel-oci', newName: 'registry.example.com/platform/camel-oci', newTag: '0.1.0-rc1' },
    expected: 'registry.example.com/platform/camel-oci:0.1.0-rc1',
  },
  {
    name: 'digest',
    entry: { name: 'camel-oci', newName: 'registry.example.com:5000/camel-oci', digest: `sha256:${'ab'.repeat(32)}` },
    expected: `registry.example.com:5000/camel-oci@sha256:${'ab'.repeat(32)}`,
  },
  {
    name: 'name only (the tag is kept)',
    entry: { name: 'camel-oci', newName: 'mirror.local/camel-oci' },
    expected: `mirror.local/${RELEASE_IMAGE}`,
  },
] as const;

for (const edit of IMAGE_EDITS) {
  test(`an images: edit (${edit.name}) in an overlay or in manifests/kustomization.yaml changes both images`, async () => {
    // An overlay of the install, as a platform team keeps it in its own repository.
    const overlay = path.join(tree.root, `overlay-${IMAGE_EDITS.indexOf(edit)}`);
    await mkdir(overlay, { recursive: true });
    await writeFile(path.join(overlay, 'kustomization.yaml'), stringify({ resources: ['../manifests'], images: [edit.entry] }));
    assert.deepEqual(webhookImages(renderKustomization(overlay)), { image: edit.expected, fetcherImage: edit.expected });
    if (kubectlSkip === false)
      assert.deepEqual(webhookImages(kubectlKustomize(overlay)), { image: edit.expected, fetcherImage: edit.expected });

    // `kustomize edit set image` in manifests/ itself (here on a copy of the whole tree).
    const copy = await cloneTree(tree);
    try {
      const file = path.join(copy.manifests, 'kustomization.yaml');
      await writeFile(file, `${await readFile(file, 'utf8')}images:\n${stringify([edit.entry])}`);
      assert.deepEqual(webhookImages(renderKustomization(copy.manifests)), { image: edit.expected, fetcherImage: edit.expected });
      if (kubectlSkip === false)
        assert.deepEqual(webhookImages(kubectlKustomize(copy.manifests)), { image: edit.expected, fetcherImage: edit.expected });
    } finally {
      await copy.cleanup();
    }
  });
}
