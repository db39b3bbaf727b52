/** `camel-oci resolve` and the CLI's own behaviour, through the built CLI against a real registry. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { runCli } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

describe('camel-oci resolve', () => {
  let registry: StartedRegistry;
  let artifact: PushedArtifact;
  before(async () => {
    registry = await startRegistry({ mode: 'tls' });
    artifact = await pushStandardArtifact(registry);
  });
  after(() => registry.stop());

  it('prints the pin, media type and every selected layer as JSON', async () => {
    const res = await runCli([
      'resolve',
      `container:${artifact.reference}`,
      '--json',
      '--ca-file',
      registry.caFile!,
      '--allow-registry',
      registry.host,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const [one] = JSON.parse(res.stdout) as Array<Record<string, any>>;
    assert.equal(one!.pinned, `${registry.host}/acme/deps@${artifact.manifest.digest}`);
    assert.equal(one!.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(
      one!.layers.map((l: any) => [l.digest, l.size, l.kind]),
      artifact.manifest.layers.slice(0, 4).map((l, i) => [l.digest, l.size, i === 1 ? 'kamelets' : 'dependency']),
    );
    assert.equal(one!.layers[0].name, 'com.acme:foo:1.0');
    assert.equal(one!.ignored.length, 1);
  });

  it('prints a human summary, and exits 1 naming the code when one reference fails', async () => {
    const res = await runCli([
      'resolve',
      artifact.reference,
      `${registry.host}/acme/deps:nope`,
      '--ca-file',
      registry.caFile!,
      '--allow-registry',
      registry.host,
    ]);
    assert.equal(res.code, 1);
    assert.ok(res.stdout.includes(`pinned     ${registry.host}/acme/deps@${artifact.manifest.digest}`), res.stdout);
    assert.match(res.stderr, /MANIFEST_UNKNOWN.*acme\/deps:nope/);
    const untrusted = await runCli(['resolve', artifact.reference, '--allow-registry', registry.host]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /TLS_ERROR.*--ca-file/);
  });

  it('refuses a loopback registry that policy does not allow', async () => {
    const res = await runCli(['resolve', artifact.reference, '--ca-file', registry.caFile!]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /POLICY_DENIED.*--allow-registry/);
  });
});

describe('camel-oci CLI', () => {
  it('prints the package version', async () => {
    const res = await runCli(['--version']);
    assert.equal(res.code, 0);
    assert.equal(res.stdout.trim(), (JSON.parse(readFileSync(fixturePath('../../package.json'), 'utf8')) as { version: string }).version);
  });

  it('exits 2 with usage for unknown commands and flags, and documents every flag with its variable', async () => {
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
    const badFlag = await runCli(['resolve', '--no-such-flag', 'x']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /CONFIG_INVALID/);
    const help = await runCli(['serve', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--insecure-registry[\s\S]*\$CAMEL_OCI_INSECURE_REGISTRY/);
  });

  it('reads serve and fetch flags from CAMEL_OCI_* variables', async () => {
    const res = await runCli(['fetch'], { env: { CAMEL_OCI_TIMEOUT: 'not-a-duration', CAMEL_OCI_PLAN: '{}' } });
    assert.equal(res.code, 2, 'a bad setting is a usage error');
    assert.match(res.stderr, /CONFIG_INVALID: --timeout/);
    const flagWins = await runCli(['fetch', '--timeout', '5s', '--root', '/nonexistent-root'], {
      env: { CAMEL_OCI_TIMEOUT: 'not-a-duration', CAMEL_OCI_PLAN: '{}' },
    });
    assert.equal(flagWins.code, 1, 'the flag wins over the variable; the plan is what fails');
    assert.match(flagWins.stderr, /PLAN_INVALID/);
  });
});
