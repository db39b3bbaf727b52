/** `--registry-mirror` through the built CLI: `resolve` (JSON and human) names the mirror that answered. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { runCli } from '../helpers/cli.js';
import { copyToMirror } from '../helpers/mirrors.js';
import { fixtureJson } from '../helpers/fixtures.js';
import { digestHex12 } from '../../src/plan/plan.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';

describe('camel-oci resolve --registry-mirror', () => {
  let upstream: StartedRegistry;
  let mirror: StartedRegistry;
  let pushed: PushedArtifact;
  before(async () => {
    [upstream, mirror] = await Promise.all([startRegistry({ mode: 'plain' }), startRegistry({ mode: 'plain' })]);
    pushed = await pushStandardArtifact(upstream, 'acme/cli-mirrored', '1.0');
    await copyToMirror(upstream, mirror, 'acme/cli-mirrored:1.0');
  });
  after(async () => {
    await upstream.stop();
    await mirror.stop();
  });

  it('resolves at the mirror with the upstream down, and --json shows the source and the mirrors', async () => {
    await upstream.stop();
    const res = await runCli([
      'resolve',
      `container:${pushed.reference}`,
      '--json',
      '--registry-mirror',
      `${upstream.host}=${mirror.host}`,
      '--insecure-registry',
      `${upstream.host},${mirror.host}`,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const [one] = JSON.parse(res.stdout) as Array<Record<string, unknown>>;
    assert.equal(one!.pinned, `${upstream.host}/acme/cli-mirrored@${pushed.manifest.digest}`, 'the pin names the upstream');
    assert.equal(one!.source, mirror.host);
    assert.deepEqual(one!.mirrors, [mirror.host]);
  });

  it('inject -f: the pod records the mirror, its plan carries it, and the built fetcher reads from it with the upstream down', async () => {
    const pod = fixtureJson<Record<string, any>>('camel-k-pods/camel-k-hello-pod.json');
    pod.metadata.annotations['camel.apache.org/container-dependencies'] = `container:${pushed.reference}`;
    const res = await runCli(
      [
        'inject',
        '-f',
        '-',
        '--registry-mirror',
        `${upstream.host}=${mirror.host}`,
        '--insecure-registry',
        `${upstream.host},${mirror.host}`,
        '--fetcher-image',
        'camel-oci:test',
      ],
      { input: stringify(pod) },
    );
    assert.equal(res.code, 0, res.stderr);
    const out = parse(res.stdout) as Record<string, any>;
    const resolved = JSON.parse(out.metadata.annotations['camel.apache.org/container-dependencies.resolved']);
    assert.equal(resolved[0].source, mirror.host);
    const env = Object.fromEntries(
      (out.spec.initContainers[0].env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]),
    );
    assert.deepEqual(JSON.parse(env.CAMEL_OCI_PLAN!).artifacts[0].mirrors, [{ registry: mirror.host, scheme: 'http' }]);
    const root = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-mirror-cli-'));
    try {
      const fetched = await runCli(['fetch', '--root', root, '--pull-secrets-dir', path.join(root, '..', 'none')], { env });
      assert.equal(fetched.code, 0, fetched.stderr + fetched.stdout);
      assert.deepEqual(
        await readFile(path.join(root, `dependencies/${digestHex12(pushed.manifest.layers[2]!.digest)}/raw-lib-3.1.jar`)),
        pushed.files.rawJar,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('prints the source in the human summary', async () => {
    const res = await runCli([
      'resolve',
      pushed.reference,
      '--registry-mirror',
      `${upstream.host}=${mirror.host}`,
      '--insecure-registry',
      `${upstream.host},${mirror.host}`,
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(res.stdout.includes(`source     mirror ${mirror.host}`), res.stdout);
  });

  it('refuses a mirror at a loopback address that is not listed, with POLICY_DENIED', async () => {
    const res = await runCli([
      'resolve',
      pushed.reference,
      '--json',
      '--registry-mirror',
      `${upstream.host}=${mirror.host}`,
      '--insecure-registry',
      upstream.host,
    ]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /POLICY_DENIED/);
  });
});
