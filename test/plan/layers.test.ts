import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../helpers/fixtures.js';
import { planAgainstManifest, selectLayers } from '../../src/plan/layers.js';
import { layerTarget, planLayer, type PlanLayer } from '../../src/plan/plan.js';
import { parseManifest } from '../../src/oci/manifest.js';
import type { Descriptor, ImageManifest } from '../../src/oci/manifest.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { OCI_EMPTY, OCI_MANIFEST } from '../../src/oci/media-types.js';
import type { LayerFormat, LayerKind } from '../../src/plan/artifact.js';

const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';
const OCI_TGZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const DOCKER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
const DOCKER_TGZ = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const DOCKER_ZSTD = 'application/vnd.docker.image.rootfs.diff.tar.zstd';
const OCI_NONDIST_TGZ = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
const DOCKER_FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
const JAR = 'application/java-archive';
const YAML = 'application/yaml';

const DEP = 'camel.apache.org.dependency';
const KAM = 'camel.apache.org.kamelets.repository';
const TITLE = 'org.opencontainers.image.title';

const digestOf = (s: string): string => sha256Digest(new TextEncoder().encode(s));

function layer(mediaType: string, annotations?: Record<string, string>, digest?: string): Descriptor {
  const d = digest ?? digestOf(`${mediaType}|${JSON.stringify(annotations ?? {})}`);
  return { mediaType, digest: d, size: 1234, ...(annotations !== undefined ? { annotations } : {}) };
}

const hex12 = (d: Descriptor): string => d.digest.slice('sha256:'.length, 'sha256:'.length + 12);

type Want = { kind: LayerKind; format: LayerFormat; name: string; fileName?: string | ((d: Descriptor) => string) } | { ignored: RegExp };

interface Row {
  name: string;
  layer: Descriptor;
  want: Want;
}

const selectedRows: Row[] = [
  // camel.apache.org.dependency
  {
    name: 'dependency, OCI tar',
    layer: layer(OCI_TAR, { [DEP]: 'com.acme:foo:1.0' }),
    want: { kind: 'dependency', format: 'tar', name: 'com.acme:foo:1.0' },
  },
  {
    name: 'dependency, Docker tar',
    layer: layer(DOCKER_TAR, { [DEP]: 'com.acme:foo:1.0' }),
    want: { kind: 'dependency', format: 'tar', name: 'com.acme:foo:1.0' },
  },
  {
    name: 'dependency, OCI tar+gzip',
    layer: layer(OCI_TGZ, { [DEP]: 'com.acme:foo:1.0' }),
    want: { kind: 'dependency', format: 'tar+gzip', name: 'com.acme:foo:1.0' },
  },
  {
    name: 'dependency, Docker tar.gzip',
    layer: layer(DOCKER_TGZ, { [DEP]: 'com.acme:foo:1.0' }),
    want: { kind: 'dependency', format: 'tar+gzip', name: 'com.acme:foo:1.0' },
  },
  {
    name: 'dependency, tar+gzip titled .jar stays a tarball',
    layer: layer(OCI_TGZ, { [DEP]: 'x', [TITLE]: 'bundle.jar' }),
    want: { kind: 'dependency', format: 'tar+gzip', name: 'x' },
  },
  {
    name: 'dependency, raw jar with a plain title',
    layer: layer(JAR, { [DEP]: 'com.acme:foo:1.0', [TITLE]: 'foo-1.0.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'com.acme:foo:1.0', fileName: 'foo-1.0.jar' },
  },
  {
    name: 'dependency, raw with a plain non-jar title keeps it',
    layer: layer('text/plain', { [DEP]: 'notes', [TITLE]: 'NOTICE.txt' }),
    want: { kind: 'dependency', format: 'raw', name: 'notes', fileName: 'NOTICE.txt' },
  },
  {
    name: 'dependency, raw without title',
    layer: layer('application/octet-stream', { [DEP]: 'com.acme:foo:1.0' }),
    want: { kind: 'dependency', format: 'raw', name: 'com.acme:foo:1.0', fileName: (d) => `${hex12(d)}.jar` },
  },
  {
    name: 'dependency, raw with a path title',
    layer: layer(JAR, { [DEP]: 'a', [TITLE]: 'lib/foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'a', fileName: (d) => `${hex12(d)}.jar` },
  },
  {
    name: 'dependency, raw with a parent-dir title',
    layer: layer(JAR, { [DEP]: 'a', [TITLE]: '../foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'a', fileName: (d) => `${hex12(d)}.jar` },
  },
  {
    name: 'dependency, raw with a backslash title',
    layer: layer(JAR, { [DEP]: 'a', [TITLE]: '..\\foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'a', fileName: (d) => `${hex12(d)}.jar` },
  },
  {
    name: 'dependency, raw with a hidden title',
    layer: layer(JAR, { [DEP]: 'a', [TITLE]: '.foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'a', fileName: (d) => `${hex12(d)}.jar` },
  },
  {
    name: 'dependency, raw with a control character in the title',
    layer: layer(JAR, { [DEP]: 'a', [TITLE]: 'foo\n.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'a', fileName: (d) => `${hex12(d)}.jar` },
  },
  {
    name: 'dependency, raw with an empty title',
    layer: layer(JAR, { [DEP]: 'a', [TITLE]: '' }),
    want: { kind: 'dependency', format: 'raw', name: 'a', fileName: (d) => `${hex12(d)}.jar` },
  },
  {
    name: 'dependency, empty value named by its title',
    layer: layer(JAR, { [DEP]: '', [TITLE]: 'foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'foo.jar', fileName: 'foo.jar' },
  },
  {
    name: 'dependency, empty value and no title named by digest',
    layer: layer(OCI_TGZ, { [DEP]: '' }),
    want: { kind: 'dependency', format: 'tar+gzip', name: '' },
  },
  // oras push ref foo.jar --annotation camel.apache.org.dependency=...: OCI tar type, raw bytes.
  {
    name: 'dependency, oras plain file (OCI tar type, .jar title) is raw',
    layer: layer(OCI_TAR, { [DEP]: 'com.acme:foo:1.0', [TITLE]: 'foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'com.acme:foo:1.0', fileName: 'foo.jar' },
  },

  // camel.apache.org.kamelets.repository
  {
    name: 'kamelets, OCI tar+gzip',
    layer: layer(OCI_TGZ, { [KAM]: 'acme-kamelets' }),
    want: { kind: 'kamelets', format: 'tar+gzip', name: 'acme-kamelets' },
  },
  {
    name: 'kamelets, OCI tar',
    layer: layer(OCI_TAR, { [KAM]: 'acme-kamelets' }),
    want: { kind: 'kamelets', format: 'tar', name: 'acme-kamelets' },
  },
  {
    name: 'kamelets, Docker tar.gzip',
    layer: layer(DOCKER_TGZ, { [KAM]: 'acme-kamelets' }),
    want: { kind: 'kamelets', format: 'tar+gzip', name: 'acme-kamelets' },
  },
  {
    name: 'kamelets, raw .kamelet.yaml',
    layer: layer(YAML, { [KAM]: 'acme', [TITLE]: 'timer-source.kamelet.yaml' }),
    want: { kind: 'kamelets', format: 'raw', name: 'acme', fileName: 'timer-source.kamelet.yaml' },
  },
  {
    name: 'kamelets, oras plain file (OCI tar type, .kamelet.yaml title) is raw',
    layer: layer(OCI_TAR, { [KAM]: 'acme', [TITLE]: 'timer-source.kamelet.yaml' }),
    want: { kind: 'kamelets', format: 'raw', name: 'acme', fileName: 'timer-source.kamelet.yaml' },
  },
  {
    name: 'kamelets, empty value named by its title',
    layer: layer(OCI_TGZ, { [KAM]: '', [TITLE]: 'kamelets.tgz' }),
    want: { kind: 'kamelets', format: 'tar+gzip', name: 'kamelets.tgz' },
  },

  // no camel annotation, title ending in .jar (what oras push makes)
  {
    name: 'unannotated .jar, OCI tar type (oras default)',
    layer: layer(OCI_TAR, { [TITLE]: 'foo-1.0.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'foo-1.0.jar', fileName: 'foo-1.0.jar' },
  },
  {
    name: 'unannotated .jar, java-archive type',
    layer: layer(JAR, { [TITLE]: 'foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'foo.jar', fileName: 'foo.jar' },
  },
  {
    name: 'unannotated .JAR, tar+gzip type (raw regardless of type)',
    layer: layer(OCI_TGZ, { [TITLE]: 'FOO.JAR' }),
    want: { kind: 'dependency', format: 'raw', name: 'FOO.JAR', fileName: 'FOO.JAR' },
  },
  {
    name: 'unannotated .jar with a path title',
    layer: layer(OCI_TAR, { [TITLE]: 'target/foo.jar' }),
    want: { kind: 'dependency', format: 'raw', name: 'target/foo.jar', fileName: (d) => `${hex12(d)}.jar` },
  },
];

const ignoredRows: Row[] = [
  { name: 'dependency, OCI tar+zstd', layer: layer(OCI_ZSTD, { [DEP]: 'a' }), want: { ignored: /compressed with zstd .*cannot unpack/ } },
  { name: 'dependency, Docker tar.zstd', layer: layer(DOCKER_ZSTD, { [DEP]: 'a' }), want: { ignored: /compressed with zstd/ } },
  {
    name: 'dependency, other compressed tar',
    layer: layer('application/vnd.oci.image.layer.v1.tar+xz', { [DEP]: 'a' }),
    want: { ignored: /compressed with xz/ },
  },
  { name: 'dependency, OCI non-distributable', layer: layer(OCI_NONDIST_TGZ, { [DEP]: 'a' }), want: { ignored: /non-distributable/ } },
  { name: 'dependency, Docker foreign layer', layer: layer(DOCKER_FOREIGN, { [DEP]: 'a' }), want: { ignored: /non-distributable/ } },
  {
    name: 'dependency, sha512 digest',
    layer: layer(OCI_TGZ, { [DEP]: 'a' }, `sha512:${'b'.repeat(128)}`),
    want: { ignored: /not sha256/ },
  },
  { name: 'kamelets, OCI tar+zstd', layer: layer(OCI_ZSTD, { [KAM]: 'a' }), want: { ignored: /zstd/ } },
  { name: 'kamelets, non-distributable', layer: layer(OCI_NONDIST_TGZ, { [KAM]: 'a' }), want: { ignored: /non-distributable/ } },
  {
    name: 'kamelets, raw without title',
    layer: layer(YAML, { [KAM]: 'a' }),
    want: { ignored: /needs an org\.opencontainers\.image\.title ending in \.kamelet\.yaml \(got none\)/ },
  },
  {
    name: 'kamelets, raw titled .yaml but not .kamelet.yaml',
    layer: layer(YAML, { [KAM]: 'a', [TITLE]: 'timer.yaml' }),
    want: { ignored: /ending in \.kamelet\.yaml \(got "timer\.yaml"\)/ },
  },
  { name: 'kamelets, raw .jar', layer: layer(JAR, { [KAM]: 'a', [TITLE]: 'foo.jar' }), want: { ignored: /ending in \.kamelet\.yaml/ } },
  {
    name: 'kamelets, raw with a path title',
    layer: layer(YAML, { [KAM]: 'a', [TITLE]: 'kamelets/timer.kamelet.yaml' }),
    want: { ignored: /not a plain file name/ },
  },
  {
    name: 'kamelets, raw with a hidden title',
    layer: layer(YAML, { [KAM]: 'a', [TITLE]: '.kamelet.yaml' }),
    want: { ignored: /not a plain file name/ },
  },
  {
    name: 'both camel annotations',
    layer: layer(OCI_TGZ, { [DEP]: 'a', [KAM]: 'b' }),
    want: { ignored: /both camel\.apache\.org\.dependency and camel\.apache\.org\.kamelets\.repository/ },
  },
  {
    name: 'plain image layer',
    layer: layer(OCI_TGZ),
    want: { ignored: /no camel\.apache\.org annotation and no org\.opencontainers\.image\.title/ },
  },
  {
    name: 'unannotated, title not a .jar',
    layer: layer(OCI_TAR, { [TITLE]: 'README.md' }),
    want: { ignored: /no camel\.apache\.org annotation and title "README\.md" is not a \.jar/ },
  },
  { name: 'unannotated, title ending in .jar.sig', layer: layer(OCI_TAR, { [TITLE]: 'foo.jar.sig' }), want: { ignored: /is not a \.jar/ } },
  {
    name: 'unannotated .jar, non-distributable',
    layer: layer(OCI_NONDIST_TGZ, { [TITLE]: 'foo.jar' }),
    want: { ignored: /non-distributable/ },
  },
  {
    name: 'unannotated .jar, sha512 digest',
    layer: layer(JAR, { [TITLE]: 'foo.jar' }, `sha512:${'c'.repeat(128)}`),
    want: { ignored: /not sha256/ },
  },
  {
    name: 'other annotations only',
    layer: layer(OCI_TGZ, { 'camel.apache.org/dependency': 'a', 'io.deis.oras.content.unpack': 'true' }),
    want: { ignored: /no camel\.apache\.org annotation/ },
  },
];

describe('selectLayers table', () => {
  for (const row of [...selectedRows, ...ignoredRows]) {
    it(row.name, () => {
      const { layers, ignored } = selectLayers({ layers: [row.layer] });
      if ('ignored' in row.want) {
        assert.equal(layers.length, 0, 'must not be selected');
        assert.equal(ignored.length, 1);
        assert.equal(ignored[0]?.digest, row.layer.digest);
        assert.equal(ignored[0]?.mediaType, row.layer.mediaType);
        assert.match(ignored[0]?.reason ?? '', row.want.ignored);
        return;
      }
      assert.equal(ignored.length, 0, `ignored: ${ignored[0]?.reason}`);
      const fileName = typeof row.want.fileName === 'function' ? row.want.fileName(row.layer) : row.want.fileName;
      const name = row.want.name === '' ? hex12(row.layer) : row.want.name;
      // A tar layer keeps its title (image-volume mode reads push's directory name from it).
      const title = row.want.format !== 'raw' ? row.layer.annotations?.[TITLE] : undefined;
      assert.deepEqual(layers, [
        {
          digest: row.layer.digest,
          size: row.layer.size,
          mediaType: row.layer.mediaType,
          kind: row.want.kind,
          format: row.want.format,
          name,
          ...(fileName !== undefined ? { fileName } : {}),
          ...(title !== undefined ? { title } : {}),
        },
      ]);
    });
  }

  it('gives every raw layer a file name and no archive layer one', () => {
    const { layers } = selectLayers({ layers: selectedRows.map((r) => r.layer) });
    assert.equal(layers.length, selectedRows.length);
    for (const l of layers) assert.equal(l.fileName !== undefined, l.format === 'raw', `${l.name} ${l.format}`);
  });
});

describe('selectLayers on whole manifests', () => {
  it('keeps manifest order and puts every layer in exactly one list', () => {
    const rows = [...selectedRows, ...ignoredRows];
    // Interleave selected and ignored rows so order is actually tested.
    const mixed = rows.map((r, i) => rows[(i * 7) % rows.length] as Row);
    assert.equal(new Set(mixed).size, rows.length);
    const { layers, ignored } = selectLayers({ layers: mixed.map((r) => r.layer) });
    assert.equal(layers.length + ignored.length, mixed.length);
    const selectedOrder = mixed.filter((r) => !('ignored' in r.want)).map((r) => r.layer.digest);
    const ignoredOrder = mixed.filter((r) => 'ignored' in r.want).map((r) => r.layer.digest);
    assert.deepEqual(
      layers.map((l) => l.digest),
      selectedOrder,
    );
    assert.deepEqual(
      ignored.map((l) => l.digest),
      ignoredOrder,
    );
  });

  it('never treats the config blob as a layer, whatever it is annotated with', () => {
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: layer(OCI_TGZ, { [DEP]: 'sneaky', [TITLE]: 'config.jar' }),
      layers: [layer(OCI_TGZ, { [DEP]: 'real' })],
    };
    const { layers, ignored } = selectLayers(manifest);
    assert.deepEqual(
      layers.map((l) => l.name),
      ['real'],
    );
    assert.equal(ignored.length, 0);
    assert.ok(!layers.some((l) => l.digest === manifest.config.digest));
  });

  it('selects the two layers of the DESIGN.md example artifact', () => {
    const doc = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_EMPTY, size: 2, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' },
      layers: [
        {
          mediaType: OCI_TGZ,
          size: 16724,
          digest: 'sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b',
          annotations: { [DEP]: 'com.acme:foo:1.0' },
        },
        {
          mediaType: OCI_TGZ,
          size: 73109,
          digest: 'sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736',
          annotations: { [KAM]: 'acme-kamelets' },
        },
      ],
    };
    const parsed = parseManifest(new TextEncoder().encode(JSON.stringify(doc)));
    assert.equal(parsed.kind, 'manifest');
    if (parsed.kind !== 'manifest') return;
    assert.deepEqual(selectLayers(parsed.manifest), {
      layers: [
        {
          digest: doc.layers[0]?.digest,
          size: 16724,
          mediaType: OCI_TGZ,
          kind: 'dependency',
          format: 'tar+gzip',
          name: 'com.acme:foo:1.0',
        },
        { digest: doc.layers[1]?.digest, size: 73109, mediaType: OCI_TGZ, kind: 'kamelets', format: 'tar+gzip', name: 'acme-kamelets' },
      ],
      ignored: [],
    });
  });

  it('ignores every layer of an ordinary Docker Hub image, saying why', () => {
    const parsed = parseManifest(readFileSync(fixturePath('oci-image-spec/docker-hub/docker-manifest-v2-888206c77cd2.json')));
    assert.equal(parsed.kind, 'manifest');
    if (parsed.kind !== 'manifest') return;
    const { layers, ignored } = selectLayers(parsed.manifest);
    assert.equal(layers.length, 0);
    assert.equal(ignored.length, 4);
    for (const i of ignored) assert.match(i.reason, /no camel\.apache\.org annotation/);
  });
});

describe('planAgainstManifest', () => {
  const tgz = layer(OCI_TGZ, { [DEP]: 'com.acme:foo:1.0' });
  const raw = layer(JAR, { [DEP]: 'com.acme:bar:1.0', [TITLE]: 'bar-1.0.jar' });
  const kamelets = layer(OCI_TGZ, { [KAM]: 'acme-kamelets' });
  const notes = layer('text/plain', { [TITLE]: 'notes.txt' });
  const manifest = { layers: [tgz, raw, kamelets, notes] };
  /** What the webhook plans for the manifest. */
  const honest = (): PlanLayer[] => selectLayers(manifest).layers.map(planLayer);
  const forge = (index: number, change: Partial<PlanLayer>): PlanLayer[] => {
    const plan = honest();
    const forged = { ...plan[index]!, ...change };
    plan[index] = { ...forged, target: layerTarget(forged.kind, forged.digest) };
    return plan;
  };

  it('accepts what the layout rules make of the manifest', () => {
    assert.equal(honest().length, 3);
    assert.equal(planAgainstManifest(honest(), manifest), undefined);
    assert.equal(planAgainstManifest(honest().slice(1), manifest), undefined, 'a subset is fine: the plan is deduplicated');
  });

  const refused: Array<{ name: string; plan: () => PlanLayer[]; message: RegExp }> = [
    {
      name: 'a layer the rules ignore, planned as a raw jar',
      plan: () => [
        ...honest(),
        {
          digest: notes.digest,
          size: notes.size,
          mediaType: notes.mediaType,
          kind: 'dependency',
          format: 'raw',
          fileName: 'smuggled.jar',
          target: layerTarget('dependency', notes.digest),
        },
      ],
      message: /one the layout rules ignore: no camel\.apache\.org annotation and title "notes\.txt" is not a \.jar/,
    },
    {
      name: 'a tar+gzip layer planned raw, under a name of its own',
      plan: () => forge(0, { format: 'raw', fileName: 'evil.jar' }),
      message: /planned as dependency raw named "evil\.jar" .*but the manifest makes it dependency tar\+gzip/,
    },
    {
      name: 'a raw layer renamed',
      plan: () => forge(1, { fileName: 'renamed.jar' }),
      message: /named "renamed\.jar".*named "bar-1\.0\.jar"/,
    },
    { name: 'a dependency planned as Kamelets', plan: () => forge(0, { kind: 'kamelets' }), message: /planned as kamelets tar\+gzip/ },
    { name: 'Kamelets planned as a dependency', plan: () => forge(2, { kind: 'dependency' }), message: /manifest makes it kamelets/ },
    { name: 'another media type', plan: () => forge(0, { mediaType: OCI_TAR, format: 'tar' }), message: /planned as dependency tar /i },
    { name: 'another size', plan: () => forge(1, { size: 1235 }), message: /1235 bytes.*1234 bytes/ },
    {
      name: 'a blob that is not in the manifest',
      plan: () => forge(0, { digest: digestOf('elsewhere') }),
      message: /is not in the manifest/,
    },
  ];
  for (const { name, plan, message } of refused) {
    it(`refuses ${name}`, () => {
      assert.match(planAgainstManifest(plan(), manifest) ?? 'accepted', message);
    });
  }

  it('takes either selection of a blob the manifest lists twice', () => {
    const blob = digestOf('one blob, two roles');
    const twice = {
      layers: [
        layer(JAR, { [DEP]: 'com.acme:baz:1.0', [TITLE]: 'baz.jar' }, blob),
        layer(YAML, { [KAM]: 'one', [TITLE]: 'one.kamelet.yaml' }, blob),
      ],
    };
    const [dependency, asKamelets] = selectLayers(twice).layers.map(planLayer);
    assert.equal(planAgainstManifest([dependency!, asKamelets!], twice), undefined);
    assert.match(planAgainstManifest([{ ...asKamelets!, fileName: 'baz.jar' }], twice) ?? 'accepted', /named "baz\.jar"/);
  });
});
