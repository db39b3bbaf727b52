/**
 * Image-volume mode end to end, with the built CLI and a real registry: what `camel-oci push` makes,
 * unpacked the way a container runtime unpacks an image volume (umoci, from the image pulled out of
 * the registry by skopeo), gives the integration container's classpath the same jars and Kamelets,
 * byte for byte, as the fetcher gives it for the same artifact. Also: a mixed pod's plan makes the
 * fetcher create the image volume's mount point.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { fixtureJson } from '../helpers/fixtures.js';
import { registryFlags, runSkopeo } from '../helpers/skopeo.js';
import { makeJar } from '../helpers/zip.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import { startWebhook } from '../helpers/webhook.js';
import { applyOps, camelKPod, reviewOf } from '../webhook/support.js';
import { schemaErrors, semanticErrors } from '../inject/support.js';

const run = promisify(execFile);
/** Debian's umoci: unpacks an OCI image layout as a runtime does (layers applied in order onto an empty rootfs). */
const UMOCI = '/usr/bin/umoci';
const DEPS = 'camel.apache.org/container-dependencies';
const RESOLVED = 'camel.apache.org/container-dependencies.resolved';

type Obj = Record<string, any>;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * The files a classpath gives the JVM, as `kind:name → sha256`: for `dir/*`, the jars directly in
 * `dir` (the JVM's wildcard: `*.jar` and `*.JAR`, not subdirectories); for a directory entry, the
 * Kamelets `classpath:/kamelets` finds in it (`kamelets/*.kamelet.yaml`). `toHost` maps a path in the
 * container to where that tree is here.
 */
async function classpathFiles(entries: readonly string[], toHost: (p: string) => string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const add = async (key: string, file: string): Promise<void> => {
    assert.ok(!out.has(key), `${key} appears twice on the classpath`);
    out.set(key, sha256(await readFile(file)));
  };
  for (const entry of entries) {
    if (entry.endsWith('/*')) {
      const dir = toHost(entry.slice(0, -2));
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isFile() && /\.jar$/i.test(e.name)) await add(`jar:${e.name}`, path.join(dir, e.name));
      }
    } else {
      const dir = path.join(toHost(entry), 'kamelets');
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isFile() && e.name.endsWith('.kamelet.yaml')) await add(`kamelet:${e.name}`, path.join(dir, e.name));
      }
    }
  }
  return out;
}

/** The integration container of an injected pod and the classpath entries camel-oci appended. */
function addedClasspath(pod: Obj, original: string): string[] {
  const c = pod.spec.containers.find((x: Obj) => x.name === 'integration');
  const args: string[] = c.args;
  const cp = args[args.indexOf('-cp') + 1] as string;
  assert.ok(cp.startsWith(`${original}:`), cp);
  return cp.slice(original.length + 1).split(':');
}

function originalClasspath(): string {
  const pod = fixtureJson<Obj>('camel-k-pods/camel-k-hello-pod.json');
  const args: string[] = pod.spec.containers.find((x: Obj) => x.name === 'integration').args;
  return args[args.indexOf('-cp') + 1] as string;
}

describe('image volumes with the built CLI', () => {
  let registry: StartedRegistry;
  let work: string;
  const files = {
    a: makeJar(undefined, [{ name: 'A.class', data: 'class a' }]),
    b: makeJar({ groupId: 'org.b', artifactId: 'b', version: '2' }, [{ name: 'B.class', data: 'class b', deflate: true }]),
    kamelet: Buffer.from('apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: acme-source\n'),
    sink: Buffer.from('apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: acme-sink\n'),
  };
  const expected = new Map([
    ['jar:a.jar', sha256(files.a)],
    ['jar:b-2.jar', sha256(files.b)],
    ['kamelet:acme-source.kamelet.yaml', sha256(files.kamelet)],
    ['kamelet:acme-sink.kamelet.yaml', sha256(files.sink)],
  ]);
  const policy = (): string[] => ['--insecure-registry', registry.host, '--allow-registry', registry.host];

  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    cleanups.push(() => registry.stop());
    work = await tempDir('camel-oci-image-volumes-');
    await mkdir(path.join(work, 'lib'));
    await mkdir(path.join(work, 'acme-kamelets'));
    await writeFile(path.join(work, 'lib', 'a.jar'), files.a);
    await writeFile(path.join(work, 'lib', 'b-2.jar'), files.b);
    await writeFile(path.join(work, 'acme-kamelets', 'acme-source.kamelet.yaml'), files.kamelet);
    await writeFile(path.join(work, 'acme-kamelets', 'acme-sink.kamelet.yaml'), files.sink);
  });

  async function pushBoth(ref: string): Promise<{ digest: string; layout: string }> {
    const inputs = ['--dependency', path.join(work, 'lib'), '--kamelets', path.join(work, 'acme-kamelets')];
    const pushed = await runCli(['push', ref, ...inputs, ...policy()]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const digest = /@(sha256:[a-f0-9]{64})\n?$/.exec(pushed.stdout)?.[1];
    assert.ok(digest, pushed.stdout);
    const layout = path.join(await tempDir('camel-oci-iv-layout-'), 'layout');
    const written = await runCli(['push', ref, ...inputs, '--oci-layout', layout]);
    assert.equal(written.code, 0, written.stderr);
    assert.ok(written.stdout.includes(digest), 'the layout holds the same image as the registry');
    return { digest, layout };
  }

  async function inject(pod: Obj, imageVolumes: boolean): Promise<Obj> {
    const out = await runCli(
      ['inject', '-f', '-', ...policy(), '--fetcher-image', 'camel-oci:test', ...(imageVolumes ? ['--image-volumes'] : [])],
      { input: stringify(pod) },
    );
    assert.equal(out.code, 0, out.stderr);
    return parse(out.stdout) as Obj;
  }

  async function fetch(pod: Obj): Promise<string> {
    const init = pod.spec.initContainers.find((c: Obj) => c.name === 'camel-oci-fetch');
    const plan = init.env.find((e: Obj) => e.name === 'CAMEL_OCI_PLAN').value as string;
    const base = await tempDir('camel-oci-iv-fetch-');
    const root = path.join(base, 'root');
    const fetched = await runCli(
      [
        'fetch',
        '--root',
        root,
        '--pull-secrets-dir',
        path.join(base, 'none'),
        '--termination-log',
        path.join(base, 'none-log'),
        ...policy(),
      ],
      { env: { CAMEL_OCI_PLAN: plan } },
    );
    assert.equal(fetched.code, 0, fetched.stderr);
    return root;
  }

  it('the image volume, unpacked as a runtime does, gives the same jars and Kamelets as the fetcher', async () => {
    const ref = `${registry.host}/acme/pushed:1.0`;
    const { digest, layout } = await pushBoth(ref);
    const pod = fixtureJson<Obj>('camel-k-pods/camel-k-hello-pod.json');
    pod.metadata.annotations[DEPS] = `container:${ref}`;
    const original = originalClasspath();

    // Image-volume mode: the volume names the pinned upstream reference; no init container.
    const mounted = await inject(pod, true);
    assert.equal(
      (mounted.spec.initContainers ?? []).some((c: Obj) => c.name === 'camel-oci-fetch'),
      false,
    );
    const hex = digest.slice('sha256:'.length, 'sha256:'.length + 12);
    const volume = mounted.spec.volumes.find((v: Obj) => v.name === `camel-oci-image-${hex}`);
    assert.deepEqual(volume, {
      name: `camel-oci-image-${hex}`,
      image: { reference: `${registry.host}/acme/pushed@${digest}`, pullPolicy: 'IfNotPresent' },
    });
    assert.equal(JSON.parse(mounted.metadata.annotations[RESOLVED])[0].mode, 'image-volume');
    const imageEntries = addedClasspath(mounted, original);
    const mountPath = `/camel-oci/images/${hex}`;
    assert.ok(
      imageEntries.every((e) => e.startsWith(`${mountPath}/`)),
      imageEntries.join(':'),
    );

    // What the kubelet mounts: the image pulled from the registry by digest, unpacked by umoci.
    const pulled = path.join(await tempDir('camel-oci-iv-pulled-'), 'oci');
    // runSkopeo throws on failure.
    await runSkopeo(['copy', ...registryFlags(registry, 'src'), `docker://${volume.image.reference}`, `oci:${pulled}:pulled`]);
    const unpacked = await tempDir('camel-oci-iv-rootfs-');
    for (const [image, dir] of [
      [`${pulled}:pulled`, path.join(unpacked, 'pulled')],
      [`${layout}:1.0`, path.join(unpacked, 'layout')],
    ] as const) {
      await run(UMOCI, ['raw', 'unpack', '--rootless', '--image', image, dir], { timeout: 60_000 });
    }
    const fromImage = await classpathFiles(imageEntries, (p) => path.join(unpacked, 'pulled', path.relative(mountPath, p)));
    const fromLayout = await classpathFiles(imageEntries, (p) => path.join(unpacked, 'layout', path.relative(mountPath, p)));

    // Fetch mode: the plan inject gives without --image-volumes, run by the built fetcher.
    const fetchedPod = await inject(pod, false);
    assert.ok(!stringify(fetchedPod).includes('camel-oci-image-'));
    assert.equal(JSON.parse(fetchedPod.metadata.annotations[RESOLVED])[0].mode, undefined, 'no mode field with the flag off');
    const root = await fetch(fetchedPod);
    const fetchEntries = addedClasspath(fetchedPod, original);
    const fromFetcher = await classpathFiles(fetchEntries, (p) => path.join(root, path.relative('/camel-oci', p)));

    assert.deepEqual(fromImage, expected, 'the image volume gives exactly the pushed files');
    assert.deepEqual(fromFetcher, fromImage, 'the fetcher gives the same files, byte for byte');
    assert.deepEqual(fromLayout, fromImage, 'push --oci-layout makes the same image');
  });

  it("a mixed pod: the fetcher's plan has the mount point, and fetch makes it inside the shared volume", async () => {
    const ref = `${registry.host}/acme/mixed:1.0`;
    const { digest } = await pushBoth(ref);
    await pushStandardArtifact(registry, 'acme/standard', '1.0');
    const pod = fixtureJson<Obj>('camel-k-pods/camel-k-hello-pod.json');
    pod.metadata.annotations[DEPS] = `container:${registry.host}/acme/standard:1.0,container:${ref}`;
    const mixed = await inject(pod, true);
    const hex = digest.slice('sha256:'.length, 'sha256:'.length + 12);
    const records = JSON.parse(mixed.metadata.annotations[RESOLVED]);
    assert.deepEqual(
      records.map((r: Obj) => r.mode),
      ['fetch', 'image-volume'],
    );
    assert.match(records[0].fallback, /^artifactType "application\/vnd\.camel\.apache\.org\.dependencies\.v1" is not/);
    const mounts = mixed.spec.containers.find((c: Obj) => c.name === 'integration').volumeMounts.slice(-2);
    assert.deepEqual(
      mounts.map((m: Obj) => m.mountPath),
      ['/camel-oci', `/camel-oci/images/${hex}`],
    );
    const root = await fetch(mixed);
    assert.ok((await stat(path.join(root, 'images', hex))).isDirectory());
    assert.deepEqual(await readdir(path.join(root, 'images', hex)), [], 'an empty mount point');
    assert.deepEqual((await readdir(root)).sort(), ['dependencies', 'images', 'kamelets'], 'the other artifact fetched beside it');
    assert.deepEqual(await readdir(path.join(root, 'images')), [hex]);
  });
  it('serve with CAMEL_OCI_IMAGE_VOLUMES=true admits the pod with the image volume and no init container', async () => {
    const ref = `${registry.host}/acme/served:1.0`;
    const { digest } = await pushBoth(ref);
    const hook = await startWebhook([], {
      CAMEL_OCI_ALLOW_REGISTRY: registry.host,
      CAMEL_OCI_INSECURE_REGISTRY: registry.host,
      CAMEL_OCI_IMAGE_VOLUMES: 'true',
    });
    cleanups.push(() => hook.stop());
    const pod = camelKPod('hello', { [DEPS]: `container:${ref}` });
    const { status, body } = await hook.post('/mutate?timeout=10s', reviewOf(pod, { uid: 'iv-1' }));
    assert.equal(status, 200);
    assert.equal(body.response.allowed, true);
    const patched = applyOps(pod, JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8')));
    assert.deepEqual([...schemaErrors(patched), ...semanticErrors(patched)], []);
    const hex = digest.slice('sha256:'.length, 'sha256:'.length + 12);
    assert.ok(
      patched.spec.volumes.some(
        (v: Obj) => v.name === `camel-oci-image-${hex}` && v.image.reference === `${registry.host}/acme/served@${digest}`,
      ),
    );
    assert.equal(
      (patched.spec.initContainers ?? []).some((c: Obj) => c.name === 'camel-oci-fetch'),
      false,
    );
    assert.equal(JSON.parse(patched.metadata.annotations[RESOLVED])[0].mode, 'image-volume');
  });
});
