import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseImage, renderKustomization } from './kustomize.js';

/** Image references split as kustomize splits them: a registry port is not a tag. */
const IMAGE_CASES = [
  { image: 'camel-oci', parsed: { name: 'camel-oci' } },
  { image: 'camel-oci:0.1.0', parsed: { name: 'camel-oci', tag: '0.1.0' } },
  { image: 'registry.example.com:5000/camel-oci', parsed: { name: 'registry.example.com:5000/camel-oci' } },
  { image: 'registry.example.com:5000/a/camel-oci:1.2', parsed: { name: 'registry.example.com:5000/a/camel-oci', tag: '1.2' } },
  { image: `camel-oci@sha256:${'0'.repeat(64)}`, parsed: { name: 'camel-oci', digest: `sha256:${'0'.repeat(64)}` } },
  { image: `camel-oci:1@sha256:${'0'.repeat(64)}`, parsed: { name: 'camel-oci', tag: '1', digest: `sha256:${'0'.repeat(64)}` } },
] as const;

for (const c of IMAGE_CASES) {
  test(`parseImage ${c.image}`, () => {
    assert.deepEqual(parseImage(c.image), c.parsed);
  });
}

async function kustomization(t: test.TestContext, text: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-kustomize-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'kustomization.yaml'), text);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

const CONFIG_MAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {k: v}\n';

test('the renderer refuses kustomize features it does not implement, naming them', async (t) => {
  const dir = await kustomization(t, 'resources: [cm.yaml]\nnamePrefix: x-\ncommonLabels: {a: b}\n', { 'cm.yaml': CONFIG_MAP });
  assert.throws(() => renderKustomization(dir), /fields namePrefix, commonLabels are not implemented/);
});

test('the renderer refuses a strategic-merge patch and a patch that reaches no object', async (t) => {
  const smp = await kustomization(
    t,
    'resources: [cm.yaml]\npatches:\n  - patch: "{kind: ConfigMap, metadata: {name: a}, data: {k: w}}"\n',
    { 'cm.yaml': CONFIG_MAP },
  );
  assert.throws(() => renderKustomization(smp), /only JSON 6902 patches/);
  const miss = await kustomization(
    t,
    'resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: b}\n    patch: "[{op: add, path: /data/x, value: y}]"\n',
    {
      'cm.yaml': CONFIG_MAP,
    },
  );
  assert.throws(() => renderKustomization(miss), /matches no object/);
});

test('the renderer applies a JSON 6902 patch to its target only', async (t) => {
  const dir = await kustomization(
    t,
    'resources: [cm.yaml, cm2.yaml]\npatches:\n  - target: {kind: ConfigMap, name: a}\n    patch: "[{op: add, path: /data/x, value: y}]"\n',
    {
      'cm.yaml': CONFIG_MAP,
      'cm2.yaml': CONFIG_MAP.replace('name: a', 'name: b'),
    },
  );
  const [a, b] = renderKustomization(dir);
  assert.deepEqual(a?.data, { k: 'v', x: 'y' });
  assert.deepEqual(b?.data, { k: 'v' });
});
