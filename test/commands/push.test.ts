/**
 * `camel-oci push` end to end against the real registry: reproducible digests, HEAD before upload,
 * cross-repository mount, auth in Basic and token modes (the upload verbs alone: test/registry/upload.test.ts), and interop: skopeo copies
 * what push made and reads its OCI layouts, `camel-oci resolve` and the fetcher read it back byte for byte.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/main.js';
import { buildPlan, digestHex12 } from '../../src/plan/plan.js';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { createResolverFor } from '../helpers/resolver.js';
import { registryFlags, runSkopeo } from '../helpers/skopeo.js';
import { makeJar } from '../helpers/zip.js';
import { runCli } from '../helpers/cli.js';
import { fixtureJson } from '../helpers/fixtures.js';
import { stringify } from 'yaml';
import { request as undiciRequest } from 'undici';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function tempDir(prefix = 'camel-oci-push-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Inputs {
  readonly foo: Buffer;
  readonly a: Buffer;
  readonly b: Buffer;
  readonly kamelet: Buffer;
}

function inputs(seed: string): Inputs {
  return {
    foo: makeJar({ groupId: 'com.acme', artifactId: 'foo', version: '1.0' }, [{ name: 'com/acme/Foo.class', data: `foo ${seed}` }]),
    a: makeJar(undefined, [{ name: 'A.class', data: `a ${seed}` }]),
    b: makeJar({ groupId: 'org.b', artifactId: 'b', version: '2' }, [{ name: 'B.class', data: `b ${seed}`, deflate: true }]),
    kamelet: Buffer.from(`apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: acme-source\n# ${seed}\n`),
  };
}

/** Writes the inputs into a fresh temp dir; returns the push arguments naming them. */
async function writeInputs(files: Inputs): Promise<string[]> {
  const d = await tempDir('camel-oci-push-src-');
  await mkdir(path.join(d, 'lib'));
  await mkdir(path.join(d, 'acme-kamelets'));
  await writeFile(path.join(d, 'foo-1.0.jar'), files.foo);
  await writeFile(path.join(d, 'lib', 'a.jar'), files.a);
  await writeFile(path.join(d, 'lib', 'b-2.jar'), files.b);
  await writeFile(path.join(d, 'lib', 'ignored.txt'), 'left out');
  await writeFile(path.join(d, 'acme-kamelets', 'acme-source.kamelet.yaml'), files.kamelet);
  await writeFile(path.join(d, 'acme-kamelets', 'notes.md'), 'left out');
  return ['--dependency', path.join(d, 'foo-1.0.jar'), '--dependency', path.join(d, 'lib'), '--kamelets', path.join(d, 'acme-kamelets')];
}

function registryArgs(registry: StartedRegistry, configFile?: string): string[] {
  const args = ['--allow-registry', registry.host];
  if (registry.tokenIssuer) args.push('--allow-registry', new URL(registry.tokenIssuer.url).host);
  if (registry.mode === 'plain') args.push('--insecure-registry', registry.host);
  if (registry.caFile) args.push('--ca-file', registry.caFile);
  if (configFile) args.push('--registry-config', configFile);
  return args;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, env, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function push(registry: StartedRegistry, ref: string, args: string[], configFile?: string): Promise<string> {
  const run = await cli(['push', `${registry.host}/${ref}`, ...args, ...registryArgs(registry, configFile)]);
  assert.equal(run.code, 0, run.stderr);
  const m = /^(.+):([^:@]+)@(sha256:[a-f0-9]{64})$/.exec(run.stdout.trim());
  assert.ok(m, `pinned reference printed: ${run.stdout}`);
  assert.equal(`${m[1]}:${m[2]}`, `${registry.host}/${ref}`);
  return m[3]!;
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
      else out.push(r);
    }
  }
  await walk(dir, '');
  return out.sort();
}

/** Resolves `ref` with camel-oci's resolver, runs the fetcher on the plan, and returns the root. */
async function fetchBack(registry: StartedRegistry, ref: string, configFile?: string): Promise<{ root: string; hex: string[] }> {
  const { resolver, context } = await createResolverFor(registry, configFile ? { registryConfigs: [configFile] } : {});
  let artifact;
  try {
    artifact = await resolver.resolve(ref);
  } finally {
    await context.agent.close();
  }
  assert.deepEqual(artifact.ignored, []);
  const base = await tempDir('camel-oci-push-fetch-');
  const root = path.join(base, 'root');
  const run = await cli(
    [
      'fetch',
      '--root',
      root,
      '--pull-secrets-dir',
      path.join(base, 'none'),
      '--termination-log',
      path.join(base, 'none-log'),
      ...registryArgs(registry, configFile),
    ],
    { CAMEL_OCI_PLAN: JSON.stringify(buildPlan([artifact])) },
  );
  assert.equal(run.code, 0, run.stderr);
  return { root, hex: artifact.layers.map((l) => digestHex12(l.digest)) };
}

async function assertFetchedEqual(registry: StartedRegistry, ref: string, files: Inputs, configFile?: string): Promise<void> {
  const { root, hex } = await fetchBack(registry, ref, configFile);
  const [foo, lib, kam] = hex;
  assert.deepEqual(
    await tree(root),
    [
      `dependencies/${foo}/foo-1.0.jar`,
      `dependencies/${lib}/a.jar`,
      `dependencies/${lib}/b-2.jar`,
      `kamelets/${kam}/kamelets/acme-source.kamelet.yaml`,
    ].sort(),
  );
  assert.deepEqual(await readFile(path.join(root, `dependencies/${foo}/foo-1.0.jar`)), files.foo);
  assert.deepEqual(await readFile(path.join(root, `dependencies/${lib}/a.jar`)), files.a);
  assert.deepEqual(await readFile(path.join(root, `dependencies/${lib}/b-2.jar`)), files.b);
  assert.deepEqual(await readFile(path.join(root, `kamelets/${kam}/kamelets/acme-source.kamelet.yaml`)), files.kamelet);
}

function uploadsOf(entries: ReturnType<StartedRegistry['accessLog']>, repository: string): typeof entries {
  return entries.filter((e) => e.kind === 'upload' && e.repository === repository);
}

describe('push to a plain registry', () => {
  let registry: StartedRegistry;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    cleanups.push(() => registry.stop());
  });

  it('gives the same digest from two copies of the inputs, and uploads nothing the second time (HEAD first)', async () => {
    const files = inputs('twice');
    const first = await push(registry, 'acme/deps:1.0', await writeInputs(files));
    await registry.settledAccessLog();
    registry.resetAccessLog();
    const second = await push(registry, 'acme/deps:1.1', await writeInputs(files));
    assert.equal(second, first);
    const log = await registry.settledAccessLog();
    assert.deepEqual(uploadsOf(log, 'acme/deps'), [], 'no upload session when every blob is there');
    const heads = log.filter((e) => e.kind === 'blob' && e.method === 'HEAD');
    assert.equal(heads.length, 4, 'one HEAD per blob: three layers and the config');
    assert.ok(heads.every((e) => e.status === 200));
    assert.deepEqual(
      log.filter((e) => e.method === 'PUT').map((e) => e.path),
      ['/v2/acme/deps/manifests/1.1'],
    );
  });

  it('is read back by camel-oci resolve and by the fetcher, byte for byte', async () => {
    const files = inputs('fetch');
    const digest = await push(registry, 'acme/fetch:1.0', await writeInputs(files));
    const run = await cli(['resolve', `${registry.host}/acme/fetch:1.0`, '--json', ...registryArgs(registry)]);
    assert.equal(run.code, 0, run.stderr);
    const [resolved] = JSON.parse(run.stdout) as Array<{
      digest: string;
      layers: Array<{ kind: string; format: string; name: string }>;
      ignored: unknown[];
    }>;
    assert.equal(resolved!.digest, digest);
    assert.deepEqual(resolved!.ignored, []);
    assert.deepEqual(
      resolved!.layers.map((l) => [l.kind, l.format, l.name]),
      [
        ['dependency', 'tar+gzip', 'com.acme:foo:1.0'],
        ['dependency', 'tar+gzip', 'lib'],
        ['kamelets', 'tar+gzip', 'acme-kamelets'],
      ],
    );
    await assertFetchedEqual(registry, `${registry.host}/acme/fetch:1.0`, files);
  });

  it('is copied by skopeo with its digest, and is an image with the camel-oci tree in its layers', async () => {
    const files = inputs('skopeo');
    const digest = await push(registry, 'acme/skopeo:1.0', await writeInputs(files));
    const layout = await tempDir('camel-oci-push-skopeo-');
    await runSkopeo([
      'copy',
      '--preserve-digests',
      ...registryFlags(registry, 'src'),
      `docker://${registry.host}/acme/skopeo:1.0`,
      `oci:${layout}:copy`,
    ]);
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(index.manifests[0]!.digest, digest);
    // skopeo inspect reads the image config (os, architecture, layers): it is a valid image.
    const inspected = JSON.parse(
      (
        await runSkopeo([
          'inspect',
          ...registryFlags(registry, 'src').map((f) => f.replace('--src-', '--')),
          `docker://${registry.host}/acme/skopeo:1.0`,
        ])
      ).stdout,
    ) as {
      Os: string;
      Architecture: string;
      Layers: string[];
    };
    assert.equal(inspected.Os, 'linux');
    assert.equal(inspected.Architecture, 'amd64');
    assert.equal(inspected.Layers.length, 3);
  });

  it('writes an OCI layout that skopeo reads and pushes to the same digest', async () => {
    const files = inputs('layout');
    const dir = path.join(await tempDir('camel-oci-push-layout-'), 'out');
    const run = await cli(['push', `${registry.host}/acme/layout:2.0`, ...(await writeInputs(files)), '--oci-layout', dir]);
    assert.equal(run.code, 0, run.stderr);
    const layoutDigest = /@(sha256:[a-f0-9]{64})$/.exec(run.stdout.trim())?.[1];
    assert.ok(layoutDigest);
    assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const inspected = JSON.parse((await runSkopeo(['inspect', `oci:${dir}:2.0`])).stdout) as { Digest: string; Layers: string[] };
    assert.equal(inspected.Digest, layoutDigest);
    assert.equal(inspected.Layers.length, 3);
    await runSkopeo([
      'copy',
      '--preserve-digests',
      ...registryFlags(registry, 'dest'),
      `oci:${dir}:2.0`,
      `docker://${registry.host}/acme/layout:2.0`,
    ]);
    const direct = await push(registry, 'acme/layout-direct:2.0', await writeInputs(files));
    assert.equal(direct, layoutDigest, 'layout and direct push give one digest');
    await assertFetchedEqual(registry, `${registry.host}/acme/layout:2.0`, files);
    // A second tag into the same layout keeps the first.
    assert.equal(
      (await cli(['push', `${registry.host}/acme/layout:2.1`, ...(await writeInputs(inputs('other'))), '--oci-layout', dir])).code,
      0,
    );
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ annotations: Record<string, string> }>;
    };
    assert.deepEqual(
      index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']),
      ['2.0', '2.1'],
    );
  });

  it('mounts blobs from another repository of the registry with --mount-from', async () => {
    const files = inputs('mount');
    const args = await writeInputs(files);
    const digest = await push(registry, 'acme/base:1.0', args);
    await registry.settledAccessLog();
    registry.resetAccessLog();
    assert.equal(await push(registry, 'acme/mounted:1.0', [...args, '--mount-from', 'acme/base']), digest);
    const uploads = uploadsOf(await registry.settledAccessLog(), 'acme/mounted');
    assert.equal(uploads.length, 4, 'one mount request per blob');
    assert.ok(
      uploads.every((e) => e.method === 'POST' && e.uri.includes('mount=') && e.uri.includes('from=acme%2Fbase') && e.status === 201),
      JSON.stringify(uploads),
    );
    await assertFetchedEqual(registry, `${registry.host}/acme/mounted:1.0`, files);
  });

  it('falls back to a plain upload when the blob is not in the --mount-from repository', async () => {
    const files = inputs('mount-miss');
    registry.resetAccessLog();
    await push(registry, 'acme/mount-miss:1.0', [...(await writeInputs(files)), '--mount-from', 'acme/empty']);
    const uploads = uploadsOf(await registry.settledAccessLog(), 'acme/mount-miss');
    assert.equal(uploads.filter((e) => e.method === 'POST' && e.status === 202).length, 4);
    assert.equal(uploads.filter((e) => e.method === 'PUT' && e.status === 201).length, 4);
    await assertFetchedEqual(registry, `${registry.host}/acme/mount-miss:1.0`, files);
  });

  const badRuns: Array<[string, (dir: string) => Promise<string[]>, string, number]> = [
    ['no reference', async () => ['push'], 'CONFIG_INVALID', 2],
    ['two references', async () => ['push', 'a/b:1', 'c/d:2'], 'CONFIG_INVALID', 2],
    ['a digest reference', async () => ['push', `x.example/a/b@sha256:${'a'.repeat(64)}`], 'CONFIG_INVALID', 2],
    ['nothing to pack', async (d) => ['push', 'x.example/a/b:1', '--oci-layout', d], 'CONFIG_INVALID', 2],
    [
      'a bad --mount-from',
      async (d) => ['push', 'x.example/a/b:1', '--mount-from', 'other.example/x', '--oci-layout', d],
      'CONFIG_INVALID',
      2,
    ],
    [
      'a missing jar',
      async (d) => ['push', 'x.example/a/b:1', '--dependency', path.join(d, 'missing.jar'), '--oci-layout', d],
      'INPUT_INVALID',
      1,
    ],
    [
      'a bad Kamelet',
      async (d) => {
        await mkdir(path.join(d, 'kams'));
        await writeFile(path.join(d, 'kams', 'broken.kamelet.yaml'), 'kind: Kamelet\nspec: [unclosed\n');
        return ['push', 'x.example/a/b:1', '--kamelets', path.join(d, 'kams'), '--oci-layout', path.join(d, 'out')];
      },
      'INPUT_INVALID',
      1,
    ],
  ];
  for (const [name, argsOf, code, exit] of badRuns) {
    it(`refuses ${name} with ${code}`, async () => {
      const d = await tempDir();
      const run = await cli(await argsOf(d));
      assert.equal(run.code, exit, run.stderr);
      assert.match(run.stderr, new RegExp(`: ${code}: `));
      if (name === 'a bad Kamelet') assert.match(run.stderr, /kams\/broken\.kamelet\.yaml/);
    });
  }

  it('applies the registry policy: a loopback registry not allowed is refused before any request', async () => {
    registry.resetAccessLog();
    const run = await cli(['push', `${registry.host}/acme/denied:1.0`, ...(await writeInputs(inputs('denied')))]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /POLICY_DENIED/);
    assert.deepEqual(await registry.settledAccessLog(), []);
  });
});

describe('push with credentials', () => {
  for (const mode of ['basic', 'token'] as const) {
    describe(`${mode} mode`, () => {
      let registry: StartedRegistry;
      let configFile: string;
      before(async () => {
        registry = await startRegistry({ mode });
        cleanups.push(() => registry.stop());
        configFile = await registry.writeDockerConfig(await tempDir('camel-oci-push-cfg-'));
      });

      it('pushes with the docker config, and the artifact reads back byte for byte', async () => {
        const files = inputs(`${mode}-creds`);
        registry.tokenIssuer?.resetRequests();
        const digest = await push(registry, 'acme/private:1.0', await writeInputs(files), configFile);
        assert.equal(await push(registry, 'acme/private:1.1', await writeInputs(files), configFile), digest);
        if (registry.tokenIssuer) {
          const scopes = registry.tokenIssuer
            .requests()
            .flatMap((r) => r.scopes.map((s) => `${s.name}:${[...s.actions].sort().join(',')}`));
          assert.ok(scopes.includes('acme/private:pull,push'), `push asked for pull,push: ${scopes.join(' ')}`);
        }
        await assertFetchedEqual(registry, `${registry.host}/acme/private:1.0`, files, configFile);
      });

      it('mounts across repositories with a token for both', async () => {
        const files = inputs(`${mode}-mount`);
        const args = await writeInputs(files);
        const digest = await push(registry, 'acme/src:1.0', args, configFile);
        await registry.settledAccessLog();
        registry.resetAccessLog();
        assert.equal(await push(registry, 'acme/dst:1.0', [...args, '--mount-from', 'acme/src'], configFile), digest);
        const uploads = uploadsOf(await registry.settledAccessLog(), 'acme/dst').filter((e) => e.status !== 401);
        assert.ok(uploads.length === 4 && uploads.every((e) => e.uri.includes('mount=') && e.status === 201), JSON.stringify(uploads));
      });

      it('is refused without credentials', async () => {
        const run = await cli([
          'push',
          `${registry.host}/acme/anon:1.0`,
          ...(await writeInputs(inputs(`${mode}-anon`))),
          ...registryArgs(registry),
        ]);
        assert.equal(run.code, 1);
        assert.match(run.stderr, /UNAUTHORIZED|DENIED/);
      });
    });
  }
});

describe('the built CLI', () => {
  let registry: StartedRegistry;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    cleanups.push(() => registry.stop());
  });

  it("pushes with SOURCE_DATE_EPOCH as the creation time, and inject (the webhook's code) pins what it pushed", async () => {
    const files = inputs('cli');
    const ref = `${registry.host}/acme/cli:1.0`;
    const pushed = await runCli(['push', ref, ...(await writeInputs(files)), '--insecure-registry', registry.host], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    const digest = /@(sha256:[a-f0-9]{64})\n?$/.exec(pushed.stdout)?.[1];
    assert.ok(digest, pushed.stdout);
    assert.match(pushed.stderr, /camel\.apache\.org\.dependency=com\.acme:foo:1\.0/);

    const res = await undiciRequest(`${registry.url}/v2/acme/cli/manifests/1.0`, {
      dispatcher: registry.dispatcher,
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const manifest = (await res.body.json()) as { annotations: Record<string, string> };
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.created': '2023-11-14T22:13:20Z' });

    const pod = fixtureJson<Record<string, any>>('camel-k-pods/camel-k-hello-pod.json');
    pod.metadata.annotations['camel.apache.org/container-dependencies'] = `container:${ref}`;
    const injected = await runCli(['inject', '-f', '-', '--insecure-registry', registry.host, '--fetcher-image', 'camel-oci:test'], {
      input: stringify(pod),
    });
    assert.equal(injected.code, 0, injected.stderr);
    assert.ok(injected.stdout.includes(`${registry.host}/acme/cli@${digest}`), 'the resolved annotation pins the pushed digest');
    assert.match(injected.stdout, /camel-oci-fetch/);
  });

  it('lists its flags in --help', async () => {
    const help = await runCli(['push', '--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--dependency', '--kamelets', '--oci-layout', '--mount-from', '--platform', '--registry-config'])
      assert.ok(help.stdout.includes(flag), flag);
  });
});
