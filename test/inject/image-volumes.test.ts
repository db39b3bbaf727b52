/** Image-volume mode: layout detection with its fallback reasons, and the patches for image-only, mixed and flag-off pods. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { artifactMode } from '../../src/inject/image-volumes.js';
import { buildInjection, escapePointer } from '../../src/inject/patch.js';
import { decide, SKIP_REASONS } from '../../src/inject/decide.js';
import { isInjected } from '../../src/inject/pod.js';
import { ANNOTATION_RESOLVED, INIT_CONTAINER_NAME, VOLUME_NAME } from '../../src/inject/annotations.js';
import { ISTIO_EXCLUDE_OUTBOUND_PORTS, LINKERD_SKIP_OUTBOUND_PORTS } from '../../src/inject/mesh.js';
import { parsePlan } from '../../src/plan/plan.js';
import { ENV_PLAN } from '../../src/plan/env.js';
import { CAMEL_OCI_ARTIFACT_TYPE, DOCKER_MANIFEST, OCI_EMPTY, OCI_IMAGE_CONFIG } from '../../src/oci/media-types.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';
import { isCamelOciError } from '../../src/base/errors.js';
import {
  applyAndValidate,
  artifact,
  digest,
  fetchContainer,
  helloPod,
  layer,
  OPTIONS,
  restrictedViolations,
  twoArtifacts,
  type Obj,
} from './support.js';

const ON = { ...OPTIONS, imageVolumes: true } as const;
const HEX = 'c'.repeat(12);
const ROOT = `/camel-oci/images/${HEX}`;
const PINNED = `docker.io/acme/pushed@${digest('c')}`;

/** What `camel-oci push --dependency libs/ --kamelets my-kamelets/` makes, as resolved. */
function pushed(over: Partial<ResolvedArtifact> = {}): ResolvedArtifact {
  return artifact({
    reference: 'docker.io/acme/pushed:1.0',
    repository: 'acme/pushed',
    digest: digest('c'),
    artifactType: CAMEL_OCI_ARTIFACT_TYPE,
    configMediaType: OCI_IMAGE_CONFIG,
    layers: [
      layer('3', { name: 'libs', title: 'dependencies-libs.tar.gz' }),
      layer('4', { kind: 'kamelets', name: 'my-kamelets', title: 'kamelets-my-kamelets.tar.gz' }),
    ],
    ...over,
  });
}

function volumeNames(pod: Obj): string[] {
  return (pod.spec.volumes ?? []).map((v: Obj) => v.name);
}

function integration(pod: Obj): Obj {
  return pod.spec.containers.find((c: Obj) => c.name === 'integration');
}

function classpathOf(pod: Obj): string {
  const args: string[] = integration(pod).args;
  return args[args.indexOf('-cp') + 1] as string;
}

/** The restricted level as the apiserver applies it from 1.33 on: `image` volumes are allowed (kubernetes/kubernetes#130394). */
function restricted133(pod: Obj, container: Obj): string[] {
  return restrictedViolations(pod, container).filter((v) => !/^volume camel-oci-image-[0-9a-f]{12} of type image$/.test(v));
}

describe('artifactMode', () => {
  it('mounts what push makes: one volume per manifest, classpath entries into it in layer order', () => {
    assert.deepEqual(artifactMode(pushed()), {
      mode: 'image-volume',
      volume: {
        hex12: HEX,
        name: `camel-oci-image-${HEX}`,
        reference: PINNED,
        mountPath: ROOT,
        classpath: [`${ROOT}/dependencies/libs/*`, `${ROOT}/kamelets/my-kamelets`],
      },
    });
  });

  const fallbacks: { name: string; artifact: ResolvedArtifact; reason: RegExp }[] = [
    { name: 'no artifactType', artifact: pushed({ artifactType: undefined }), reason: /no artifactType/ },
    {
      name: 'another artifactType',
      artifact: pushed({ artifactType: 'application/vnd.acme.thing' }),
      reason: /is not application\/vnd\.camel-oci/,
    },
    { name: 'a Docker manifest', artifact: pushed({ mediaType: DOCKER_MANIFEST }), reason: /manifest media type/ },
    { name: 'an empty config (oras push)', artifact: pushed({ configMediaType: OCI_EMPTY }), reason: /not an OCI image config/ },
    { name: 'no config media type known', artifact: pushed({ configMediaType: undefined }), reason: /not an OCI image config/ },
    {
      name: 'a raw layer',
      artifact: pushed({
        layers: [layer('5', { format: 'raw', mediaType: 'application/java-archive', fileName: 'a.jar', title: undefined })],
      }),
      reason: /raw blob/,
    },
    {
      name: 'an ignored layer',
      artifact: pushed({
        ignored: [{ digest: digest('6'), mediaType: 'application/octet-stream', reason: 'no camel.apache.org annotation' }],
      }),
      reason: /layer sha256:666666666666 is ignored/,
    },
    { name: 'a tar layer without a title', artifact: pushed({ layers: [layer('7')] }), reason: /not titled dependencies-<name>\.tar\.gz/ },
    {
      name: 'a title of the other kind',
      artifact: pushed({ layers: [layer('7', { title: 'kamelets-libs.tar.gz' })] }),
      reason: /not titled dependencies-<name>/,
    },
    {
      name: 'a name that climbs out',
      artifact: pushed({ layers: [layer('7', { title: 'dependencies-../../etc.tar.gz' })] }),
      reason: /not a plain path segment/,
    },
    {
      name: 'a name with a slash',
      artifact: pushed({ layers: [layer('7', { title: 'dependencies-a/b.tar.gz' })] }),
      reason: /not a plain path segment/,
    },
    {
      name: 'a hidden name',
      artifact: pushed({ layers: [layer('7', { title: 'dependencies-.x.tar.gz' })] }),
      reason: /not a plain path segment/,
    },
    {
      name: 'two layers in one directory',
      artifact: pushed({ layers: [layer('7', { title: 'dependencies-a.tar.gz' }), layer('8', { title: 'dependencies-a.tar.gz' })] }),
      reason: /two layers share dependencies\/a\//,
    },
  ];
  for (const row of fallbacks) {
    it(`falls back to the fetcher, saying why: ${row.name}`, () => {
      const mode = artifactMode(row.artifact);
      assert.equal(mode.mode, 'fetch');
      assert.match(mode.mode === 'fetch' ? (mode.fallback ?? '') : '', row.reason);
    });
  }
});

describe('buildInjection with --image-volumes', () => {
  it('an all-image-volume pod: the image volume, no init container, no emptyDir, no pull secrets or mesh exclusions; valid', () => {
    const pod = helloPod();
    pod.spec.imagePullSecrets = [{ name: 'regcred' }];
    pod.metadata.labels = { ...pod.metadata.labels, 'security.istio.io/tlsMode': 'istio' };
    const result = buildInjection(pod, [pushed()], ON);
    assert.equal(result.plan, undefined);
    const patched = applyAndValidate(pod, result.ops);
    assert.equal(patched.spec.initContainers, undefined, 'no init container');
    assert.deepEqual(
      patched.spec.volumes.filter((v: Obj) => !pod.spec.volumes.some((o: Obj) => o.name === v.name)),
      [{ name: `camel-oci-image-${HEX}`, image: { reference: PINNED, pullPolicy: 'IfNotPresent' } }],
    );
    assert.ok(!volumeNames(patched).includes(VOLUME_NAME));
    assert.deepEqual(integration(patched).volumeMounts.slice(-1), [{ name: `camel-oci-image-${HEX}`, mountPath: ROOT, readOnly: true }]);
    assert.ok(classpathOf(patched).endsWith(`:${ROOT}/dependencies/libs/*:${ROOT}/kamelets/my-kamelets`));
    assert.deepEqual(result.classpath, [`${ROOT}/dependencies/libs/*`, `${ROOT}/kamelets/my-kamelets`]);
    const annotations = patched.metadata.annotations;
    assert.equal(annotations[ISTIO_EXCLUDE_OUTBOUND_PORTS], undefined, 'no fetcher egress to exclude');
    assert.equal(annotations[LINKERD_SKIP_OUTBOUND_PORTS], undefined);
    assert.deepEqual(JSON.parse(annotations[ANNOTATION_RESOLVED]), [
      {
        ref: 'docker.io/acme/pushed:1.0',
        pinned: PINNED,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        layers: [digest('3'), digest('4')],
        mode: 'image-volume',
      },
    ]);
    // The integration container's own settings are Camel K's; what injection adds is the volume.
    assert.deepEqual(
      restricted133(patched, integration(patched)).filter((v) => v.startsWith('volume ')),
      [],
    );
    // Reinvocation and the audit see it as injected: no init container, but the image volume.
    assert.ok(isInjected(patched));
    assert.deepEqual(decide(patched), { action: 'skip', reason: SKIP_REASONS.alreadyInjected });
    assert.deepEqual(buildInjection(patched, [pushed()], ON).ops, []);
  });

  it('a mixed pod: the fetcher for the other artifact, the mount point in its plan, the shared volume mounted before the image volume', () => {
    const [fetched] = twoArtifacts() as [ResolvedArtifact];
    const pod = helloPod();
    const result = buildInjection(pod, [fetched, pushed()], ON);
    const patched = applyAndValidate(pod, result.ops);
    const init = fetchContainer(patched);
    assert.equal(patched.spec.initContainers[0].name, INIT_CONTAINER_NAME);
    const plan = parsePlan(init.env.find((e: Obj) => e.name === ENV_PLAN).value);
    assert.deepEqual(plan, result.plan);
    assert.deepEqual(plan.imageMounts, [`images/${HEX}`]);
    assert.deepEqual(
      plan.artifacts.map((a) => a.reference),
      ['docker.io/acme/deps:1.0'],
      'the image-volume artifact is not fetched',
    );
    assert.deepEqual(init.volumeMounts, [{ name: VOLUME_NAME, mountPath: '/camel-oci' }], 'the init container does not mount the image');
    const mounts = integration(patched).volumeMounts.slice(-2);
    assert.deepEqual(mounts, [
      { name: VOLUME_NAME, mountPath: '/camel-oci', readOnly: true },
      { name: `camel-oci-image-${HEX}`, mountPath: ROOT, readOnly: true },
    ]);
    assert.ok(volumeNames(patched).includes(VOLUME_NAME) && volumeNames(patched).includes(`camel-oci-image-${HEX}`));
    // Classpath in reference order.
    assert.deepEqual(result.classpath, [
      '/camel-oci/dependencies/111111111111/*',
      `${ROOT}/dependencies/libs/*`,
      `${ROOT}/kamelets/my-kamelets`,
    ]);
    const records = JSON.parse(patched.metadata.annotations[ANNOTATION_RESOLVED]);
    assert.deepEqual(
      records.map((r: Obj) => [r.mode, r.fallback]),
      [
        ['fetch', 'the manifest has no artifactType (not made by camel-oci push)'],
        ['image-volume', undefined],
      ],
    );
    assert.deepEqual(Object.keys(records[0]).slice(-2), ['mode', 'fallback'], 'mode and fallback come last');
    assert.deepEqual(restricted133(patched, init), []);
  });

  it('a pod whose every artifact falls back is patched exactly as without the flag, plus the mode fields', () => {
    const artifacts = twoArtifacts();
    const off = buildInjection(helloPod(), artifacts, OPTIONS);
    const on = buildInjection(helloPod(), artifacts, ON);
    const strip = (ops: typeof on.ops): unknown =>
      ops.map((o) => {
        if (typeof o.value === 'string' && o.path.endsWith(escapePointer(ANNOTATION_RESOLVED))) {
          return { ...o, value: JSON.parse(o.value).map(({ mode: _m, fallback: _f, ...rest }: Obj) => rest) };
        }
        if (o.path === '/metadata/annotations') {
          const v = { ...(o.value as Obj) };
          v[ANNOTATION_RESOLVED] = JSON.parse(v[ANNOTATION_RESOLVED]).map(({ mode: _m, fallback: _f, ...rest }: Obj) => rest);
          return { ...o, value: v };
        }
        return o;
      });
    const normalize = (ops: typeof on.ops): unknown =>
      ops.map((o) =>
        o.path.endsWith(escapePointer(ANNOTATION_RESOLVED)) && typeof o.value === 'string' ? { ...o, value: JSON.parse(o.value) } : o,
      );
    assert.deepEqual(strip(on.ops), normalize(off.ops));
    assert.deepEqual(on.plan, off.plan);
    assert.ok(JSON.parse(on.resolvedAnnotation).every((r: Obj) => r.mode === 'fetch' && typeof r.fallback === 'string'));
  });

  it('flag off: byte-identical to a build without the option, even for an artifact in the image layout', () => {
    for (const artifacts of [[pushed()], twoArtifacts(), [twoArtifacts()[0]!, pushed()]]) {
      const plain = buildInjection(helloPod(), artifacts, OPTIONS);
      const off = buildInjection(helloPod(), artifacts, { ...OPTIONS, imageVolumes: false });
      assert.equal(JSON.stringify(off.ops), JSON.stringify(plain.ops));
      assert.equal(off.resolvedAnnotation, plain.resolvedAnnotation);
      assert.ok(!off.resolvedAnnotation.includes('"mode"'));
      assert.ok(off.plan !== undefined && off.plan.imageMounts === undefined);
      assert.ok(!JSON.stringify(off.ops).includes('camel-oci-image-'));
    }
  });

  it('one volume for the same manifest asked twice (by tag and by digest)', () => {
    const byDigest = pushed({ reference: `docker.io/acme/pushed@${digest('c')}` });
    const result = buildInjection(helloPod(), [pushed(), byDigest], ON);
    const patched = applyAndValidate(helloPod(), result.ops);
    assert.equal(volumeNames(patched).filter((n) => n.startsWith('camel-oci-image-')).length, 1);
    assert.equal(result.plan, undefined);
    assert.deepEqual(
      JSON.parse(result.resolvedAnnotation).map((r: Obj) => r.mode),
      ['image-volume', 'image-volume'],
    );
  });

  it('two manifests whose digests share 12 hex characters: the second is fetched, saying why', () => {
    const twin = pushed({
      reference: 'docker.io/acme/twin:1',
      repository: 'acme/twin',
      digest: `sha256:${'c'.repeat(12)}${'0'.repeat(52)}`,
    });
    const result = buildInjection(helloPod(), [pushed(), twin], ON);
    applyAndValidate(helloPod(), result.ops);
    const records = JSON.parse(result.resolvedAnnotation);
    assert.equal(records[1].mode, 'fetch');
    assert.match(records[1].fallback, /same 12 characters/);
    assert.deepEqual(result.plan?.imageMounts, [`images/${HEX}`]);
  });

  it('refuses a pod that already uses the image volume name or its mount path (NAME_COLLISION)', () => {
    const withVolume = helloPod();
    withVolume.spec.volumes.push({ name: `camel-oci-image-${HEX}`, emptyDir: {} });
    const withMount = helloPod();
    withMount.spec.volumes.push({ name: 'mine', emptyDir: {} });
    integration(withMount).volumeMounts.push({ name: 'mine', mountPath: ROOT });
    for (const pod of [withVolume, withMount]) {
      assert.throws(
        () => buildInjection(pod, [pushed()], ON),
        (err: unknown) => isCamelOciError(err, 'NAME_COLLISION'),
      );
    }
  });

  it('an all-image-volume pod does not reserve the fetcher names', () => {
    const pod = helloPod();
    pod.spec.volumes.push({ name: VOLUME_NAME, emptyDir: {} });
    const patched = applyAndValidate(pod, buildInjection(pod, [pushed()], ON).ops);
    assert.equal(patched.spec.initContainers, undefined);
  });
});
