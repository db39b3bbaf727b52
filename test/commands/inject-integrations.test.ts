/** `camel-oci inject -f` on Integrations and Pipes (`kamel run -o yaml | camel-oci inject -f - | kubectl apply -f -`), through the built CLI and a real registry. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments, stringify } from 'yaml';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact, type PushedArtifact } from '../helpers/artifacts.js';
import { runCli } from '../helpers/cli.js';
import { crdErrors, kamelRunIntegration, pipeOf, type Obj } from '../helpers/camel-k.js';
import { decideIntegration } from '../../src/inject/integration.js';

const PINNED = 'camel.apache.org/container-dependencies.pinned';

describe('camel-oci inject: Integrations and Pipes', () => {
  let registry: StartedRegistry;
  let artifact: PushedArtifact;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    artifact = await pushStandardArtifact(registry);
  });
  after(async () => {
    await registry?.stop();
  });

  const args = (): string[] => ['inject', '-f', '-', '--insecure-registry', registry.host, '--fetcher-image', 'camel-oci:test'];

  it('pins them as the webhook does, leaves other documents alone, and the webhook keeps those pins', async () => {
    const ref = `container:${artifact.reference}`;
    const input = [
      kamelRunIntegration('hello', { dependencies: ['camel:http', ref], env: ['X=1'] }),
      pipeOf('timer-to-log', { dependencies: [ref], integrationDependencies: ['mvn:com.acme:x:1'] }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'untouched' }, data: { a: 'b' } },
      kamelRunIntegration('plain', { dependencies: ['camel:http'] }),
    ];
    const res = await runCli(args(), { input: input.map((d) => stringify(d)).join('---\n') });
    assert.equal(res.code, 0, res.stderr);
    const out = parseAllDocuments(res.stdout).map((d) => d.toJS() as Obj);
    assert.equal(out.length, 4);
    const pin = `${artifact.reference}@${artifact.manifest.digest}`;
    const [integration, pipe, configMap, plain] = out as [Obj, Obj, Obj, Obj];
    assert.deepEqual(crdErrors(integration), []);
    assert.deepEqual(crdErrors(pipe), []);
    assert.deepEqual(integration.spec.dependencies, ['camel:http']);
    assert.equal(integration.metadata.annotations[PINNED], pin);
    assert.deepEqual(integration.spec.traits.environment.vars, ['X=1', `CAMEL_OCI_DEPENDENCIES=${pin}`]);
    assert.equal(pipe.spec.dependencies, undefined);
    assert.deepEqual(pipe.spec.integration.dependencies, ['mvn:com.acme:x:1']);
    assert.equal(pipe.metadata.annotations[PINNED], pin);
    assert.deepEqual(configMap, input[2]);
    assert.deepEqual(plain, input[3]);
    // Applied later (CREATE), the webhook keeps what was committed instead of resolving again.
    const decision = decideIntegration(integration);
    assert.ok(decision.action === 'pin');
    assert.deepEqual(decision.reuse, { pins: [pin], source: 'object' });

    // Idempotent: injecting the output again changes nothing.
    const again = await runCli(args(), { input: res.stdout });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      parseAllDocuments(again.stdout).map((d) => d.toJS() as Obj),
      out,
    );
  });

  it('fails naming the reference that cannot be resolved', async () => {
    const ref = `container:${registry.host}/acme/deps:404`;
    const res = await runCli(args(), { input: stringify(kamelRunIntegration('nope', { dependencies: [ref] })) });
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`MANIFEST_UNKNOWN: cannot resolve ${ref.replace(/[.:/]/g, '\\$&')}`));
    assert.equal(res.stdout, '');
  });
});
