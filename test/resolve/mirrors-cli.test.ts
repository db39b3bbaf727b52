/** `--registry-mirror` through the built CLI: `resolve` (JSON and human) names the mirror that answered. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { runCli } from '../helpers/cli.js';
import { copyToMirror } from '../helpers/mirrors.js';

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
