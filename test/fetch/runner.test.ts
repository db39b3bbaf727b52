/** `camel-oci fetch` end to end: real registry, skopeo-pushed artifacts, the plan the webhook would make. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerConfig } from '../../src/oci/docker-config.js';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { main } from '../../src/main.js';
import { buildPlan, digestHex12 } from '../../src/plan/plan.js';
import type { FetchPlan } from '../../src/plan/plan.js';
import { createResolver } from '../../src/resolve/setup.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { blobPath, startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { startBlackhole, startFaultProxy } from '../helpers/fault-proxy.js';
import { DEPENDENCY, pushBuilt, pushStandardArtifact, pushTwoPlatformIndex } from '../helpers/artifacts.js';
import { makeTarGz } from '../helpers/oci-layout.js';
import { BUFFERED_LAYER_BYTES, MAX_LAYER_ATTEMPTS, MAX_RESUMES } from '../../src/fetch/runner.js';
import { runCli } from '../helpers/cli.js';
import { oneJarPlan } from '../helpers/plans.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function resolveAll(
  host: string,
  refs: string[],
  extra: { insecure?: boolean; caFile?: string; pullSecrets?: string[]; allow?: string[] } = {},
): Promise<ResolvedArtifact[]> {
  const { resolver, context } = await createResolver({
    registryConfigs: [],
    insecureRegistries: extra.insecure === false ? [] : [host],
    allowRegistries: extra.allow ?? [host],
    caFiles: extra.caFile ? [extra.caFile] : [],
    platform: 'linux/amd64',
    tagTtlMs: 0,
    staleGraceMs: 0,
  });
  try {
    return await Promise.all(
      refs.map((r) =>
        resolver.resolve(
          r,
          extra.pullSecrets ? { pullSecrets: extra.pullSecrets.map((t, i) => parseDockerConfig(t, `pull secret ${i + 1}`)) } : {},
        ),
      ),
    );
  } finally {
    await context.agent.close();
  }
}

interface FetchRun {
  code: number;
  stdout: string[];
  stderr: string[];
  lines: Array<Record<string, unknown>>;
}

/**
 * The webhook's --insecure-registry as it hands it to the init container: these tests resolve a
 * plain registry as insecure-listed (resolveAll), so its artifacts are the plan's http ones. The
 * fetcher itself never takes a plan's word for it.
 */
function webhookInsecure(plan: FetchPlan | string): Record<string, string> {
  if (typeof plan === 'string') return {};
  const hosts = plan.artifacts.filter((a) => a.scheme === 'http').map((a) => a.registry);
  return hosts.length > 0 ? { CAMEL_OCI_INSECURE_REGISTRY: [...new Set(hosts)].join(',') } : {};
}

async function fetchCli(plan: FetchPlan | string, root: string, args: string[] = [], env: Record<string, string> = {}): Promise<FetchRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(
    [
      'fetch',
      '--root',
      root,
      '--pull-secrets-dir',
      path.join(root, '..', 'no-secrets'),
      '--termination-log',
      path.join(root, '..', 'no-termlog'),
      ...args,
    ],
    { CAMEL_OCI_PLAN: typeof plan === 'string' ? plan : JSON.stringify(plan), ...webhookInsecure(plan), ...env },
    { stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t) },
  );
  const lines = stdout.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  return { code, stdout, stderr, lines };
}

/** Every file under dir, as relative paths. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
      else out.push(r);
    }
  }
  await walk(dir, '');
  return out.sort();
}

/** A plain HTTP proxy to the registry at `port` that answers manifest requests `delayMs` late, recording the order of answers. */
async function startSlowManifestProxy(port: number, delayMs: number): Promise<{ host: string; order: string[] }> {
  const order: string[] = [];
  const server = createServer((req, res) => {
    const kind = req.url?.includes('/manifests/') ? 'manifest' : req.url?.includes('/blobs/') ? 'blob' : 'other';
    const forward = (): void => {
      const up = httpRequest({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', () => order.push(kind));
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (kind === 'manifest') setTimeout(forward, delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, order };
}

describe('fetch against a plain registry', () => {
  let registry: StartedRegistry;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    cleanups.push(() => registry.stop());
  });

  it('lands every planned layer at its DESIGN.md path, byte for byte', async () => {
    const pushed = await pushStandardArtifact(registry);
    const [artifact] = await resolveAll(registry.host, [pushed.reference]);
    const root = await tempDir('camel-oci-fetch-');
    const run = await fetchCli(buildPlan([artifact!]), root);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    const [dep, kam, raw, plain] = pushed.manifest.layers.map((l) => digestHex12(l.digest));
    const f = pushed.files;
    assert.deepEqual(await readFile(path.join(root, `dependencies/${dep}/foo-1.0.jar`)), f.fooJar);
    assert.deepEqual(await readFile(path.join(root, `dependencies/${dep}/bar-2.0.jar`)), f.barJar, 'jars at depth are flattened');
    assert.deepEqual(await readFile(path.join(root, `dependencies/${dep}/docs/README.txt`)), f.readme, 'other files keep their path');
    assert.deepEqual(await readFile(path.join(root, `kamelets/${kam}/kamelets/acme-source.kamelet.yaml`)), f.kamelet);
    assert.deepEqual(await readFile(path.join(root, `dependencies/${raw}/raw-lib-3.1.jar`)), f.rawJar);
    assert.deepEqual(await readFile(path.join(root, `dependencies/${plain}/plain-4.0.jar`)), f.plainTarJar);
    assert.deepEqual(
      await tree(root),
      [
        `dependencies/${dep}/bar-2.0.jar`,
        `dependencies/${dep}/docs/README.txt`,
        `dependencies/${dep}/foo-1.0.jar`,
        `dependencies/${plain}/plain-4.0.jar`,
        `dependencies/${raw}/raw-lib-3.1.jar`,
        `kamelets/${kam}/kamelets/acme-source.kamelet.yaml`,
      ].sort(),
      'nothing else: no staging left, the ignored layer not fetched',
    );
    const layerLines = run.lines.filter((l) => l.event === 'layer');
    assert.equal(layerLines.length, 4);
    for (const l of layerLines) {
      assert.equal(typeof l.digest, 'string');
      assert.equal(typeof l.bytes, 'number');
      assert.equal(typeof l.seconds, 'number');
      assert.equal(typeof l.mibPerSecond, 'number');
    }
    assert.equal(run.lines.at(-1)!.event, 'summary');
  });

  it('fetches the platform manifest chosen from an index', async () => {
    const { amd64 } = await pushTwoPlatformIndex(registry, 'acme/multi-fetch');
    const [artifact] = await resolveAll(registry.host, [`${registry.host}/acme/multi-fetch:1.0`]);
    assert.equal(artifact!.digest, amd64.digest);
    const root = await tempDir('camel-oci-fetch-');
    const run = await fetchCli(buildPlan([artifact!]), root);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    assert.deepEqual(await tree(root), [`dependencies/${digestHex12(amd64.layers[0]!.digest)}/amd.jar`]);
  });

  /** Pushes the standard artifact to `repository` and flips one byte of its raw jar layer's blob in the registry's storage. */
  async function pushTampered(repository: string): Promise<{ artifact: ResolvedArtifact; victim: Descriptor }> {
    const pushed = await pushStandardArtifact(registry, repository, '1.0');
    const [artifact] = await resolveAll(registry.host, [pushed.reference]);
    const victim = pushed.manifest.layers[2]!; // the raw jar
    const file = blobPath(registry.storageDir, victim.digest);
    const bytes = await readFile(file);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(file, bytes);
    return { artifact: artifact!, victim };
  }

  it('fails with DIGEST_MISMATCH when the registry serves tampered bytes, and nothing lands', async () => {
    const { artifact, victim } = await pushTampered('acme/tamper-blob');
    const root = await tempDir('camel-oci-fetch-');
    const run = await fetchCli(buildPlan([artifact]), root, ['--parallel', '1']);
    assert.equal(run.code, 1);
    const message = run.stderr.join('\n');
    assert.match(message, /DIGEST_MISMATCH/);
    assert.ok(message.includes(victim.digest), 'names the layer');
    assert.ok(message.includes('acme/tamper-blob'), 'names the reference');
    const landed = await tree(root);
    assert.ok(!landed.some((p) => p.includes(digestHex12(victim.digest))), `tampered layer must not land: ${landed.join()}`);
    assert.ok(!landed.some((p) => p.startsWith('.staging')), 'staging removed');
  });

  it('fails with DIGEST_MISMATCH, without a Range request, when the registry declares a blob shorter than its size', async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/short-blob', '1.0');
    const [artifact] = await resolveAll(registry.host, [pushed.reference]);
    const victim = pushed.manifest.layers[2]!; // the raw jar
    const file = blobPath(registry.storageDir, victim.digest);
    await writeFile(file, (await readFile(file)).subarray(0, victim.size - 100));
    await registry.settledAccessLog();
    registry.resetAccessLog();
    const root = await tempDir('camel-oci-fetch-');
    const run = await fetchCli(buildPlan([artifact!]), root, ['--parallel', '1']);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr.join('\n'),
      new RegExp(`DIGEST_MISMATCH: .*as ${victim.size - 100} bytes where the manifest says ${victim.size}`),
    );
    const blobRequests = (await registry.settledAccessLog()).filter((l) => l.path.includes(victim.digest));
    assert.equal(blobRequests.length, 1, `one request, no resume: ${JSON.stringify(blobRequests)}`);
    assert.ok(!(await tree(root)).some((p) => p.includes(digestHex12(victim.digest))), 'the short layer does not land');
  });

  it('refuses a small layer above --max-layer-bytes before reading its bytes (its tampered bytes are never looked at), and nothing lands', async () => {
    // A layer of at most 1 MiB is normally downloaded whole and verified first; one above the
    // per-layer limit takes the streaming path, whose unpacker refuses it at the start.
    const { artifact, victim } = await pushTampered('acme/small-over-limit');
    const limit = victim.size - 1;
    const plan = buildPlan([artifact]);
    const only = {
      ...plan,
      artifacts: [{ ...plan.artifacts[0]!, layers: plan.artifacts[0]!.layers.filter((l) => l.digest === victim.digest) }],
    };
    const root = await tempDir('camel-oci-fetch-');
    const run = await fetchCli(only, root, ['--max-layer-bytes', String(limit)]);
    assert.equal(run.code, 1);
    const error = run.lines.find((l) => l.event === 'error')!;
    assert.equal(error.code, 'SIZE_EXCEEDED', JSON.stringify(error));
    assert.match(String(error.message), new RegExp(`above the ${limit}-byte limit per layer`));
    assert.deepEqual(await tree(root), [], 'nothing landed and no staging is left');
  });

  it("fails with the volume's own error when an image mount point cannot be made, though the requests went out first", async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/mount-blocked', '1.0');
    const [artifact] = await resolveAll(registry.host, [pushed.reference]);
    const mount = `images/${'c'.repeat(12)}`;
    const root = await tempDir('camel-oci-fetch-');
    await mkdir(path.join(root, 'images'));
    await writeFile(path.join(root, mount), 'a file where the mount point goes');
    const run = await fetchCli({ ...buildPlan([artifact!]), imageMounts: [mount] }, root);
    assert.equal(run.code, 1);
    const error = run.lines.find((l) => l.event === 'error')!;
    assert.equal(error.code, 'IO_ERROR', JSON.stringify(error));
    assert.match(String(error.message), /not a directory/);
    assert.doesNotMatch(String(error.message), /^layer /, 'the mount point is the failure, not a layer aborted by it');
    assert.deepEqual(await tree(root), [mount], 'no layer landed and no staging is left');
  });

  it('refuses a plan whose layer is not in the pinned manifest, and a missing or malformed plan', async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/planned', '1.0');
    const [artifact] = await resolveAll(registry.host, [pushed.reference]);
    const plan = buildPlan([artifact!]);
    const forgedDigest = `sha256:${'ab'.repeat(32)}`;
    const forged: FetchPlan = {
      ...plan,
      artifacts: [
        {
          ...plan.artifacts[0]!,
          layers: [{ ...plan.artifacts[0]!.layers[0]!, digest: forgedDigest, target: `dependencies/${digestHex12(forgedDigest)}` }],
        },
      ],
    };
    const root = await tempDir('camel-oci-fetch-');
    const run = await fetchCli(forged, root);
    assert.equal(run.code, 1);
    assert.match(run.stderr.join('\n'), /PLAN_INVALID.*not in the manifest/);
    assert.deepEqual(await tree(root), []);
    const none = await fetchCli('', root);
    assert.equal(none.code, 1);
    assert.match(none.stderr.join('\n'), /PLAN_INVALID.*CAMEL_OCI_PLAN/);
    const escape = JSON.stringify({
      ...plan,
      artifacts: [{ ...plan.artifacts[0], layers: [{ ...plan.artifacts[0]!.layers[0], target: '../../etc' }] }],
    });
    const bad = await fetchCli(escape, root);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr.join('\n'), /PLAN_INVALID.*target/);
  });

  it('refuses a plan that unpacks or names a layer otherwise than the pinned manifest makes it', async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/relabel', '1.0');
    const [artifact] = await resolveAll(registry.host, [pushed.reference]);
    const plan = buildPlan([artifact!]);
    const first = plan.artifacts[0]!;
    const byKind = (kind: string, format: string) => first.layers.find((l) => l.kind === kind && l.format === format)!;
    const ignored = pushed.manifest.layers.find((l) => l.mediaType === 'text/plain')!;
    const tgz = byKind('dependency', 'tar+gzip');
    const raw = byKind('dependency', 'raw');
    const forgeries: Array<{ name: string; layer: FetchPlan['artifacts'][number]['layers'][number] }> = [
      {
        name: 'the layer the rules ignore, as a raw jar',
        layer: {
          digest: ignored.digest,
          size: ignored.size,
          mediaType: ignored.mediaType,
          kind: 'dependency',
          format: 'raw',
          fileName: 'smuggled.jar',
          target: `dependencies/${digestHex12(ignored.digest)}`,
        },
      },
      { name: 'a tar+gzip layer landed raw under a name of its own', layer: { ...tgz, format: 'raw', fileName: 'evil.jar' } },
      { name: 'a raw jar renamed', layer: { ...raw, fileName: 'renamed.jar' } },
      { name: 'a dependency as Kamelets', layer: { ...tgz, kind: 'kamelets', target: `kamelets/${digestHex12(tgz.digest)}` } },
    ];
    for (const { name, layer } of forgeries) {
      const root = await tempDir('camel-oci-fetch-');
      const run = await fetchCli({ ...plan, artifacts: [{ ...first, layers: [layer] }] }, root);
      assert.equal(run.code, 1, name);
      assert.match(run.stderr.join('\n'), /PLAN_INVALID.*(ignore|but the manifest makes it)/, name);
      assert.deepEqual(await tree(root), [], `${name}: nothing lands`);
    }
    const root = await tempDir('camel-oci-fetch-');
    assert.equal((await fetchCli(plan, root)).code, 0, 'the plan the webhook made passes');
  });

  it('publishes nothing when a planned blob is real and verified but not in the pinned manifest', async () => {
    // The manifest check runs beside the downloads. A proxy holds the manifest back, so the
    // genuine layers and the smuggled blob (in the repository, with its true digest and size)
    // download and verify first; still nothing may land.
    const pushed = await pushStandardArtifact(registry, 'acme/smuggle', '1.0');
    const other = await pushBuilt(registry, 'acme/smuggle:2.0', (layout) =>
      layout.manifest({
        layers: [{ bytes: makeTarGz([{ path: 'lib/extra.jar', content: randomBytes(4096) }]), annotations: { [DEPENDENCY]: 'x:extra:1' } }],
      }),
    );
    const [artifact] = await resolveAll(registry.host, [pushed.reference]);
    const plan = buildPlan([artifact!]);
    const proxy = await startSlowManifestProxy(registry.port, 700);
    const smuggled = other.layers[0]!;
    const first = plan.artifacts[0]!;
    const forged: FetchPlan = {
      ...plan,
      artifacts: [
        {
          ...first,
          registry: proxy.host,
          layers: [
            ...first.layers,
            { ...first.layers[0]!, digest: smuggled.digest, size: smuggled.size, target: `dependencies/${digestHex12(smuggled.digest)}` },
          ],
        },
      ],
    };
    const root = await tempDir('camel-oci-fetch-');
    const run = await fetchCli(forged, root);
    assert.equal(run.code, 1);
    assert.match(run.stderr.join('\n'), /PLAN_INVALID.*not in the manifest/);
    assert.deepEqual(proxy.order.slice(-1), ['manifest'], `the blobs were all served before the manifest: ${proxy.order.join(' ')}`);
    assert.deepEqual(await tree(root), [], 'no layer of the artifact is published, not even the genuine ones');
  });

  it('refuses a layer that escapes the root, writing nothing outside it', async () => {
    const base = await tempDir('camel-oci-escape-');
    await pushBuilt(registry, 'acme/evil:1.0', (layout) =>
      layout.manifest({
        layers: [
          {
            bytes: makeTarGz([
              { path: 'ok.jar', content: 'fine' },
              { path: 'link', type: 'symlink', linkname: '../../../outside' },
              { path: 'link/pwned.jar', content: 'x' },
            ]),
            annotations: { [DEPENDENCY]: 'evil' },
          },
        ],
      }),
    );
    const [artifact] = await resolveAll(registry.host, [`${registry.host}/acme/evil:1.0`]);
    const root = path.join(base, 'root');
    await mkdir(root);
    const run = await fetchCli(buildPlan([artifact!]), root);
    assert.equal(run.code, 1);
    const message = run.stderr.join('\n');
    assert.match(message, /UNSAFE_ARCHIVE/);
    const digest = artifact!.layers[0]!.digest;
    assert.equal(message.split(digest).length - 1, 1, `the message names the layer once: ${message}`);
    assert.ok(message.includes(`layer ${digest} of container:${registry.host}/acme/evil:1.0`), message);
    assert.deepEqual(await tree(base), [], 'nothing written anywhere');
  });
});

// Each fault on both download paths: a layer of at most BUFFERED_LAYER_BYTES is kept in memory
// until verified, a larger one streams into the unpacker as it arrives.
for (const { path: way, payloadBytes } of [
  { path: 'buffered', payloadBytes: 400 * 1024 },
  { path: 'streamed', payloadBytes: BUFFERED_LAYER_BYTES + 512 * 1024 },
])
  describe(`fetch through faults (${way} layer)`, () => {
    let registry: StartedRegistry;
    before(async () => {
      registry = await startRegistry({ mode: 'plain' });
      cleanups.push(() => registry.stop());
    });

    async function bigArtifact(
      repo: string,
    ): Promise<{ artifact: ResolvedArtifact; payload: Buffer; proxy: Awaited<ReturnType<typeof startFaultProxy>> }> {
      const payload = randomBytes(payloadBytes);
      await pushBuilt(registry, `${repo}:1.0`, (layout) =>
        layout.manifest({ layers: [{ bytes: makeTarGz([{ path: 'big.jar', content: payload }]), annotations: { [DEPENDENCY]: 'big' } }] }),
      );
      const proxy = await startFaultProxy(registry.host);
      cleanups.push(() => proxy.close());
      const [artifact] = await resolveAll(proxy.host, [`${proxy.host}/${repo}:1.0`]);
      return { artifact: artifact!, payload, proxy };
    }

    /** Fetches `artifact` and checks that its one jar landed byte for byte. */
    async function fetchLanded(artifact: ResolvedArtifact, payload: Buffer): Promise<FetchRun> {
      const root = await tempDir('camel-oci-fetch-');
      const run = await fetchCli(buildPlan([artifact]), root);
      assert.equal(run.code, 0, run.stderr.join('\n'));
      assert.deepEqual(await readFile(path.join(root, `dependencies/${digestHex12(artifact.layers[0]!.digest)}/big.jar`)), payload);
      return run;
    }

    it('resumes a blob after connection resets part-way, with Range requests', async () => {
      const { artifact, payload, proxy } = await bigArtifact('acme/reset');
      proxy.resetAfterBytes(60_000, 2);
      const run = await fetchLanded(artifact, payload);
      const layer = run.lines.find((l) => l.event === 'layer')!;
      assert.ok((layer.resumes as number) >= 1, `resumed: ${JSON.stringify(layer)}`);
      assert.ok(proxy.faultedCount() >= 2);
    });

    it('resumes a truncated response', async () => {
      const { artifact, payload, proxy } = await bigArtifact('acme/truncate');
      proxy.truncateAfterBytes(50_000, 1);
      await fetchLanded(artifact, payload);
    });

    it('fails cleanly, with nothing partial, when every connection breaks', async () => {
      const { artifact, proxy } = await bigArtifact('acme/always-broken');
      proxy.resetAfterBytes(30_000);
      const root = await tempDir('camel-oci-fetch-');
      const run = await fetchCli(buildPlan([artifact]), root, ['--timeout', '20s']);
      assert.equal(run.code, 1);
      assert.ok(run.stderr.join('\n').includes(artifact.layers[0]!.digest));
      assert.deepEqual(await tree(root), []);
      proxy.passThrough();
    });

    for (const fault of ['reset', 'truncate'] as const) {
      it(`ends a blob ${fault === 'reset' ? 'reset' : 'truncated'} on every connection as a retryable UNAVAILABLE naming the host, after the whole-layer retries`, async () => {
        const { artifact, proxy } = await bigArtifact(`acme/always-${fault}`);
        if (fault === 'reset') proxy.resetAfterBytes(30_000);
        else proxy.truncateAfterBytes(30_000);
        const root = await tempDir('camel-oci-fetch-');
        const run = await fetchCli(buildPlan([artifact]), root, ['--timeout', '20s']);
        proxy.passThrough();
        assert.equal(run.code, 1);
        const error = run.lines.find((l) => l.event === 'error')!;
        assert.equal(error.code, 'UNAVAILABLE', JSON.stringify(error));
        assert.match(String(error.message), new RegExp(`${proxy.host.replace(/\./g, '\\.')} broke the connection while sending blob`));
        assert.ok(
          proxy.faultedCount() >= MAX_LAYER_ATTEMPTS * (MAX_RESUMES + 1),
          `every attempt resumed and the layer was retried: ${proxy.faultedCount()} broken connections`,
        );
        assert.deepEqual(await tree(root), []);
      });
    }

    it('stops at its deadline when the registry never answers', async () => {
      const hole = await startBlackhole();
      cleanups.push(() => hole.close());
      const pushed = await pushStandardArtifact(registry, 'acme/deadline', '1.0');
      const [artifact] = await resolveAll(registry.host, [pushed.reference]);
      const plan = buildPlan([artifact!]);
      const moved = { ...plan, artifacts: plan.artifacts.map((a) => ({ ...a, registry: hole.host })) };
      const root = await tempDir('camel-oci-fetch-');
      const started = Date.now();
      const run = await fetchCli(moved, root, ['--timeout', '1s']);
      assert.equal(run.code, 1);
      assert.match(run.stderr.join('\n'), /TIMEOUT/);
      assert.ok(Date.now() - started < 5_000);
    });
  });

describe('fetch with credentials and redirects', () => {
  it('uses the pod pull secrets from the projected volume against a token-auth registry', async () => {
    const registry = await startRegistry({ mode: 'token', anonymousPull: false });
    cleanups.push(() => registry.stop());
    const pushed = await pushStandardArtifact(registry);
    const issuerHost = new URL(registry.tokenIssuer!.url).host;
    const [artifact] = await resolveAll(registry.host, [pushed.reference], {
      insecure: false,
      caFile: registry.caFile!,
      pullSecrets: [registry.dockerConfig()],
      allow: [registry.host, issuerHost],
    });
    const base = await tempDir('camel-oci-fetch-auth-');
    const root = path.join(base, 'root');
    const secrets = path.join(base, 'pull-secrets');
    await mkdir(root);
    await mkdir(path.join(secrets, 'regcred'), { recursive: true });
    await writeFile(path.join(secrets, 'regcred', '.dockerconfigjson'), registry.dockerConfig());
    // Only the registry is listed: its token server, on another port of its host, stands as it does.
    const args = ['--pull-secrets-dir', secrets, '--ca-file', registry.caFile!, '--allow-registry', registry.host];
    const run = await fetchCli(buildPlan([artifact!]), root, args);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    assert.equal((await tree(root)).length, 6);
    const denied = await fetchCli(buildPlan([artifact!]), await tempDir('camel-oci-fetch-'), [
      '--ca-file',
      registry.caFile!,
      '--allow-registry',
      `${registry.host},${issuerHost}`,
    ]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr.join('\n'), /UNAUTHORIZED/);
  });

  it('does not send credentials to a cross-origin redirect', async () => {
    const registry = await startRegistry({ mode: 'plain' });
    cleanups.push(() => registry.stop());
    const pushed = await pushStandardArtifact(registry, 'acme/redirected', '1.0');
    const seenByStorage: IncomingHttpHeaders[] = [];
    const seenByFront: IncomingHttpHeaders[] = [];
    const credential = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    const forward = async (url: string, res: import('node:http').ServerResponse, headers: Record<string, string> = {}): Promise<void> => {
      const up = await request(`${registry.url}${url}`, { dispatcher: registry.dispatcher, headers });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(up.headers))
        if (typeof v === 'string' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      res.writeHead(up.statusCode, out);
      for await (const chunk of up.body) res.write(chunk);
      res.end();
    };
    // Object storage: another loopback origin serving blobs with no auth of its own.
    const storage: Server = createServer((req, res) => {
      seenByStorage.push(req.headers);
      void forward(req.url!, res);
    });
    // The registry's front: Basic auth, and blob GETs redirected to storage.
    const front: Server = createServer((req, res) => {
      seenByFront.push(req.headers);
      if (req.headers.authorization !== credential) {
        res
          .writeHead(401, { 'www-authenticate': 'Basic realm="front"', 'content-type': 'application/json' })
          .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      if (/\/blobs\/sha256:/.test(req.url!)) {
        const storagePort = (storage.address() as { port: number }).port;
        res.writeHead(307, { location: `http://127.0.0.1:${storagePort}${req.url}` }).end();
        return;
      }
      void forward(req.url!, res, { accept: String(req.headers.accept ?? '') });
    });
    for (const s of [storage, front]) {
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => s.close(r)));
    }
    const frontHost = `127.0.0.1:${(front.address() as { port: number }).port}`;
    const storageHost = `127.0.0.1:${(storage.address() as { port: number }).port}`;
    const config = JSON.stringify({ auths: { [frontHost]: { auth: Buffer.from('alice:s3cret').toString('base64') } } });
    const [artifact] = await resolveAll(frontHost, [`${frontHost}/acme/redirected:1.0`], { pullSecrets: [config] });
    assert.equal(artifact!.digest, pushed.manifest.digest);
    const base = await tempDir('camel-oci-fetch-redirect-');
    const root = path.join(base, 'root');
    await mkdir(root);
    await mkdir(path.join(base, 'secrets', 'front'), { recursive: true });
    await writeFile(path.join(base, 'secrets', 'front', '.dockerconfigjson'), config);
    const refused = await fetchCli(buildPlan([artifact!]), root, ['--pull-secrets-dir', path.join(base, 'secrets')]);
    assert.equal(refused.code, 1, 'the storage origin is loopback and not allowed: policy applies to redirect targets');
    assert.match(refused.stderr.join('\n'), /POLICY_DENIED/);
    assert.equal(seenByStorage.length, 0);
    const run = await fetchCli(buildPlan([artifact!]), root, [
      '--pull-secrets-dir',
      path.join(base, 'secrets'),
      '--allow-registry',
      `${frontHost},${storageHost}`,
      '--insecure-registry',
      `${frontHost},${storageHost}`,
    ]);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    assert.ok(seenByStorage.length >= 4, 'blobs came from storage');
    assert.ok(
      seenByStorage.every((h) => h.authorization === undefined),
      'no Authorization crossed origins',
    );
    assert.ok(
      seenByFront.some((h) => h.authorization === credential),
      'the registry got the credential',
    );
    assert.deepEqual(
      await readFile(path.join(root, `dependencies/${digestHex12(pushed.manifest.layers[2]!.digest)}/raw-lib-3.1.jar`)),
      pushed.files.rawJar,
    );
  });
});

describe('fetch from a registry signed by a private CA', () => {
  let registry: StartedRegistry;
  let plan: FetchPlan;
  let pushed: Awaited<ReturnType<typeof pushStandardArtifact>>;
  before(async () => {
    registry = await startRegistry({ mode: 'tls' });
    cleanups.push(() => registry.stop());
    pushed = await pushStandardArtifact(registry, 'acme/private-ca', '1.0');
    const [artifact] = await resolveAll(registry.host, [pushed.reference], { insecure: false, caFile: registry.caFile! });
    plan = buildPlan([artifact!]);
  });

  it('trusts the CA given in CAMEL_OCI_CA_PEM, and fails with TLS_ERROR without it', async () => {
    const without = await fetchCli(plan, await tempDir('camel-oci-fetch-ca-'), [], { CAMEL_OCI_ALLOW_REGISTRY: registry.host });
    assert.equal(without.code, 1);
    assert.match(without.stderr.join('\n'), /TLS_ERROR/);

    const root = await tempDir('camel-oci-fetch-ca-');
    const run = await fetchCli(plan, root, [], { CAMEL_OCI_CA_PEM: registry.caPem!, CAMEL_OCI_ALLOW_REGISTRY: registry.host });
    assert.equal(run.code, 0, run.stderr.join('\n'));
    const dep = digestHex12(pushed.manifest.layers[0]!.digest);
    assert.deepEqual(await readFile(path.join(root, `dependencies/${dep}/foo-1.0.jar`)), pushed.files.fooJar);
  });

  it('takes the CA from --ca-pem too, keeping only its certificates', async () => {
    // A CA file that carries its key as well (as a careless bundle does): the key is skipped.
    const keyBlock = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';
    const run = await fetchCli(plan, await tempDir('camel-oci-fetch-ca-'), [
      '--allow-registry',
      registry.host,
      '--ca-pem',
      `# the registry CA\n${keyBlock}${registry.caPem!}`,
    ]);
    assert.equal(run.code, 0, run.stderr.join('\n'));
  });

  const badPems: { name: string; pem: () => string; mentions: RegExp }[] = [
    { name: 'no certificate at all', pem: () => 'not a certificate', mentions: /no PEM certificate/ },
    {
      name: 'a key and no certificate',
      pem: () => '-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n',
      mentions: /no PEM certificate/,
    },
    {
      name: 'a certificate block cut short',
      pem: () => registry.caPem!.slice(0, registry.caPem!.indexOf('-----END')),
      mentions: /not well formed/,
    },
    {
      name: 'base64 that is no certificate',
      pem: () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      mentions: /not a valid X\.509/,
    },
    {
      name: 'more than 64 KiB',
      pem: () => registry.caPem!.repeat(Math.ceil((64 * 1024 + 1) / registry.caPem!.length)),
      mentions: /more than the 65536/,
    },
  ];
  for (const c of badPems) {
    it(`refuses CAMEL_OCI_CA_PEM with CONFIG_INVALID before any request: ${c.name}`, async () => {
      await registry.settledAccessLog();
      registry.resetAccessLog();
      const run = await fetchCli(plan, await tempDir('camel-oci-fetch-ca-'), [], {
        CAMEL_OCI_CA_PEM: c.pem(),
        CAMEL_OCI_ALLOW_REGISTRY: registry.host,
      });
      assert.equal(run.code, 2, 'bad usage');
      const err = run.lines.find((l) => l.event === 'error');
      assert.equal(err?.code, 'CONFIG_INVALID', run.stderr.join('\n'));
      assert.match(String(err?.message), c.mentions);
      assert.match(String(err?.message), /CAMEL_OCI_CA_PEM/, 'the message names the variable');
      assert.deepEqual(await registry.settledAccessLog(), [], 'nothing was fetched');
    });
  }

  it('exits 2 (bad usage) from the built CLI on an invalid CAMEL_OCI_CA_PEM', async () => {
    const base = await tempDir('camel-oci-fetch-ca-cli-');
    const result = await runCli(
      ['fetch', '--root', base, '--pull-secrets-dir', path.join(base, 'none'), '--termination-log', path.join(base, 'none.log')],
      {
        env: { CAMEL_OCI_PLAN: JSON.stringify(plan), CAMEL_OCI_CA_PEM: 'garbage' },
      },
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /CONFIG_INVALID/);
  });

  const unusable: Array<{ name: string; args?: string[]; env?: Record<string, string> }> = [
    { name: '--parallel abc', args: ['--parallel', 'abc'] },
    { name: 'CAMEL_OCI_PARALLEL=0', env: { CAMEL_OCI_PARALLEL: '0' } },
    { name: '--max-files abc', args: ['--max-files', 'abc'] },
    { name: '--ca-file that does not exist', args: ['--ca-file', '/nonexistent/ca.pem'] },
    { name: '--timeout abc', args: ['--timeout', 'abc'] },
  ];
  for (const c of unusable) {
    it(`exits 2 (bad usage) with CONFIG_INVALID for ${c.name}, before any request`, async () => {
      await registry.settledAccessLog();
      registry.resetAccessLog();
      const run = await fetchCli(plan, await tempDir('camel-oci-fetch-usage-'), c.args ?? [], c.env ?? {});
      assert.equal(run.code, 2, run.stderr.join('\n'));
      assert.match(run.stderr.join('\n'), /CONFIG_INVALID/);
      assert.deepEqual(await registry.settledAccessLog(), [], 'nothing was fetched');
    });
  }
});

describe('fetch policy', () => {
  it("does not trust a plan's https registry at a loopback address, and honours --allow-registry", async () => {
    const hole = await startBlackhole();
    cleanups.push(() => hole.close());
    const plan = oneJarPlan(hole.host, { repository: 'acme/x', digest: `sha256:${'cd'.repeat(32)}` });
    const root = await tempDir('camel-oci-fetch-policy-');
    const run = await fetchCli(plan, root, ['--timeout', '5s']);
    assert.equal(run.code, 1);
    assert.match(run.stderr.join('\n'), /POLICY_DENIED/);
    const restricted = await fetchCli(plan, root, ['--timeout', '5s', '--allow-registry', 'registry.example.com']);
    assert.equal(restricted.code, 1);
    assert.match(restricted.stderr.join('\n'), /POLICY_DENIED.*not allowed/);
    assert.equal(hole.connectionCount(), 0, 'no connection was opened');
  });

  it('reads a projected pull secret whose name ends in .json', async () => {
    const registry = await startRegistry({ mode: 'basic' });
    cleanups.push(() => registry.stop());
    const pushed = await pushStandardArtifact(registry);
    const [artifact] = await resolveAll(registry.host, [pushed.reference], {
      insecure: false,
      caFile: registry.caFile!,
      pullSecrets: [registry.dockerConfig()],
    });
    const base = await tempDir('camel-oci-fetch-secret-');
    await mkdir(path.join(base, 'secrets', 'regcred.json'), { recursive: true });
    await writeFile(path.join(base, 'secrets', 'regcred.json', '.dockerconfigjson'), registry.dockerConfig());
    const run = await fetchCli(buildPlan([artifact!]), path.join(base, 'root'), [
      '--pull-secrets-dir',
      path.join(base, 'secrets'),
      '--ca-file',
      registry.caFile!,
      '--allow-registry',
      registry.host,
    ]);
    assert.equal(run.code, 0, run.stderr.join('\n'));
  });
});
