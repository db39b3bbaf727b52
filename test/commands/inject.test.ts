/** `camel-oci inject -f`: offline injection of multi-document YAML, through the built CLI and a real registry. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { runCli } from '../helpers/cli.js';
import { fixtureJson } from '../helpers/fixtures.js';
import { schemaErrors, semanticErrors } from '../inject/support.js';

const DEPS = 'camel.apache.org/container-dependencies';
type Obj = Record<string, any>;

describe('camel-oci inject', () => {
  let registry: StartedRegistry;
  let artifact: PushedArtifact;
  let tmp: string;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    artifact = await pushStandardArtifact(registry);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-inject-'));
  });
  after(async () => {
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  function workloads(): Obj[] {
    const pod = fixtureJson<Obj>('camel-k-pods/camel-k-hello-pod.json');
    pod.metadata.annotations[DEPS] = `container:${artifact.reference}`;
    const template = { metadata: { labels: pod.metadata.labels, annotations: pod.metadata.annotations }, spec: pod.spec };
    return [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'hello' },
        spec: { selector: { matchLabels: pod.metadata.labels }, template },
      },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'untouched' }, data: { a: 'b' } },
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'tick' },
        spec: { schedule: '* * * * *', jobTemplate: { spec: { template: structuredClone(template) } } },
      },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    ];
  }

  it('injects every pod template that asks, through the same code as the webhook, and leaves the rest alone', async () => {
    const input = workloads();
    const file = path.join(tmp, 'in.yaml');
    await writeFile(file, input.map((d) => stringify(d)).join('---\n'));
    const args = ['inject', '-f', file, '--insecure-registry', registry.host, '--fetcher-image', 'camel-oci:test'];
    const res = await runCli(args);
    assert.equal(res.code, 0, res.stderr);
    const out = parseAllDocuments(res.stdout).map((d) => d.toJS() as Obj);
    assert.equal(out.length, 4);
    for (const [i, podSpecOf] of [
      [0, (d: Obj) => d.spec.template],
      [2, (d: Obj) => d.spec.jobTemplate.spec.template],
    ] as const) {
      const template = podSpecOf(out[i]!);
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: template.metadata, spec: template.spec };
      assert.deepEqual([...schemaErrors(pod), ...semanticErrors(pod)], []);
      assert.equal(template.spec.initContainers[0].name, 'camel-oci-fetch');
      const resolved = JSON.parse(template.metadata.annotations['camel.apache.org/container-dependencies.resolved']);
      assert.equal(resolved[0].pinned, `${registry.host}/acme/deps@${artifact.manifest.digest}`);
    }
    assert.deepEqual(out[1], input[1]);
    assert.deepEqual(out[3], input[3]);

    // Standard input, and idempotence: injecting the output again changes nothing.
    const again = await runCli(['inject', '-f', '-', '--insecure-registry', registry.host, '--fetcher-image', 'camel-oci:test'], {
      input: res.stdout,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      parseAllDocuments(again.stdout).map((d) => d.toJS()),
      out,
    );
  });

  it('fails with a clear error and no output for bad YAML and unresolvable references', async () => {
    const bad = await runCli(['inject', '-f', '-'], { input: 'kind: Pod\n  bad: [indent\n' });
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /CONFIG_INVALID.*YAML/);
    const docs = workloads();
    docs[0]!.spec.template.metadata.annotations[DEPS] = `container:${registry.host}/acme/deps:missing`;
    const missing = await runCli(['inject', '-f', '-', '--insecure-registry', registry.host], { input: stringify(docs[0]) });
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /MANIFEST_UNKNOWN/);
    const none = await runCli(['inject']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /-f FILE/);
  });
});
