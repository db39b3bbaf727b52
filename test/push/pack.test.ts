/** Packing without I/O: layers, annotations, image config, gzip header, Kamelet checks, reproducibility. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { isCamelOciError } from '../../src/base/errors.js';
import { selectLayers } from '../../src/plan/layers.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { checkKamelet, createdFromSourceDateEpoch, layerName, packArtifact, reproducibleGzip } from '../../src/push/pack.js';
import type { DependencyInput, KameletsInput } from '../../src/push/pack.js';
import { listTar } from '../helpers/list-tar.js';
import { makeJar } from '../helpers/zip.js';

const KAMELET = Buffer.from('apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: acme-source\n');
const FOO = makeJar({ groupId: 'com.acme', artifactId: 'foo', version: '1.0' });
const BAR = makeJar();

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

const deps = (): DependencyInput[] => [
  { source: 'libs/foo-1.0.jar', kind: 'jar', name: 'foo-1.0', jars: [{ fileName: 'foo-1.0.jar', data: FOO }] },
  {
    source: 'target/lib',
    kind: 'dir',
    name: 'lib',
    jars: [
      { fileName: 'z.jar', data: BAR },
      { fileName: 'a.jar', data: FOO },
    ],
  },
];
const repos = (): KameletsInput[] => [
  { source: 'kamelets', name: 'acme', files: [{ fileName: 'acme-source.kamelet.yaml', data: KAMELET }] },
];
const OPTIONS = { os: 'linux', architecture: 'amd64' };

describe('gzip', () => {
  it('has mtime 0, no name, a fixed OS byte, and round-trips', () => {
    const gz = reproducibleGzip(Buffer.from('hello'));
    assert.deepEqual([...gz.subarray(0, 4)], [0x1f, 0x8b, 8, 0], 'deflate, no FNAME/FEXTRA/FCOMMENT flags');
    assert.equal(gz.readUInt32LE(4), 0, 'mtime');
    assert.equal(gz[9], 0xff, 'OS byte');
    assert.equal(gunzipSync(gz).toString(), 'hello');
  });
});

describe('Kamelet checks', () => {
  it('accepts a Kamelet', () => checkKamelet(KAMELET, 'k/a.kamelet.yaml'));
  const bad: Array<[string, string]> = [
    ['broken YAML', 'kind: Kamelet\n  bad: [\n'],
    ['a list', '- kind: Kamelet\n'],
    ['another kind', 'apiVersion: v1\nkind: ConfigMap\n'],
    ['two documents', 'kind: Kamelet\n---\nkind: Kamelet\n'],
    ['duplicate keys', 'kind: Kamelet\nkind: Kamelet\n'],
  ];
  for (const [name, text] of bad) {
    it(`refuses ${name}, naming the file`, () => {
      assert.throws(
        () => checkKamelet(Buffer.from(text), 'repo/bad.kamelet.yaml'),
        (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('repo/bad.kamelet.yaml'),
      );
    });
  }
});

describe('packArtifact', () => {
  it('gives the same bytes for the same inputs', () => {
    const a = packArtifact(deps(), repos(), OPTIONS);
    const b = packArtifact(deps(), repos(), OPTIONS);
    assert.equal(a.manifest.digest, b.manifest.digest);
    assert.deepEqual(a.manifest.bytes, b.manifest.bytes);
    assert.equal(a.manifest.digest, sha256(a.manifest.bytes));
  });

  it('lays out the camel-oci tree, annotates each layer, and makes a valid image config', async () => {
    const art = packArtifact(deps(), repos(), OPTIONS);
    const manifest = JSON.parse(art.manifest.bytes.toString()) as Record<string, unknown>;
    assert.equal(manifest.artifactType, 'application/vnd.camel-oci.artifact.v1');
    assert.equal(manifest.annotations, undefined, 'no creation time unless SOURCE_DATE_EPOCH');
    const parsed = parseManifest(art.manifest.bytes);
    assert.equal(parsed.kind, 'manifest');
    if (parsed.kind !== 'manifest') return;
    assert.deepEqual(
      parsed.manifest.layers.map((l) => l.annotations),
      [
        { 'camel.apache.org.dependency': 'com.acme:foo:1.0', 'org.opencontainers.image.title': 'dependencies-foo-1.0.tar.gz' },
        { 'camel.apache.org.dependency': 'lib', 'org.opencontainers.image.title': 'dependencies-lib.tar.gz' },
        { 'camel.apache.org.kamelets.repository': 'acme', 'org.opencontainers.image.title': 'kamelets-acme.tar.gz' },
      ],
    );
    const selected = selectLayers(parsed.manifest);
    assert.deepEqual(selected.ignored, []);
    assert.deepEqual(
      selected.layers.map((l) => [l.kind, l.format, l.name]),
      [
        ['dependency', 'tar+gzip', 'com.acme:foo:1.0'],
        ['dependency', 'tar+gzip', 'lib'],
        ['kamelets', 'tar+gzip', 'acme'],
      ],
    );
    const config = JSON.parse(art.config.bytes.toString()) as {
      os: string;
      architecture: string;
      rootfs: { type: string; diff_ids: string[] };
    };
    assert.equal(parsed.manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.equal(parsed.manifest.config.digest, sha256(art.config.bytes));
    assert.equal(config.os, 'linux');
    assert.equal(config.architecture, 'amd64');
    assert.equal(config.rootfs.type, 'layers');
    const trees: string[][] = [];
    for (const [i, layer] of art.layers.entries()) {
      assert.equal(layer.digest, sha256(layer.bytes));
      assert.equal(parsed.manifest.layers[i]!.digest, layer.digest);
      const tar = gunzipSync(layer.bytes);
      assert.equal(config.rootfs.diff_ids[i], sha256(tar), 'diff_id is the uncompressed tar');
      trees.push((await listTar(tar)).map((e) => e.path));
    }
    assert.deepEqual(trees, [
      ['dependencies/', 'dependencies/foo-1.0/', 'dependencies/foo-1.0/foo-1.0.jar'],
      ['dependencies/', 'dependencies/lib/', 'dependencies/lib/a.jar', 'dependencies/lib/z.jar'],
      ['kamelets/', 'kamelets/acme/', 'kamelets/acme/kamelets/', 'kamelets/acme/kamelets/acme-source.kamelet.yaml'],
    ]);
  });

  it('writes SOURCE_DATE_EPOCH as the creation time, and a platform variant', () => {
    const created = createdFromSourceDateEpoch('1700000000');
    assert.equal(created, '2023-11-14T22:13:20Z');
    const art = packArtifact(deps(), [], { os: 'linux', architecture: 'arm64', variant: 'v8', created: created! });
    const manifest = JSON.parse(art.manifest.bytes.toString()) as { annotations: Record<string, string> };
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.created': created });
    const config = JSON.parse(art.config.bytes.toString()) as Record<string, unknown>;
    assert.equal(config.created, created);
    assert.equal(config.variant, 'v8');
    assert.equal(createdFromSourceDateEpoch(undefined), undefined);
    assert.throws(
      () => createdFromSourceDateEpoch('yesterday'),
      (e) => isCamelOciError(e, 'CONFIG_INVALID'),
    );
  });

  it('changes the digest when one byte of one input changes', () => {
    const changed = deps();
    changed[1] = { ...changed[1]!, jars: [{ fileName: 'z.jar', data: Buffer.concat([BAR, Buffer.from([0])]) }, changed[1]!.jars[1]!] };
    assert.notEqual(packArtifact(changed, repos(), OPTIONS).manifest.digest, packArtifact(deps(), repos(), OPTIONS).manifest.digest);
  });

  it('refuses nothing to pack, empty inputs, duplicate names and bad names', () => {
    assert.throws(
      () => packArtifact([], [], OPTIONS),
      (e) => isCamelOciError(e, 'CONFIG_INVALID'),
    );
    assert.throws(
      () => packArtifact([{ source: 'd', kind: 'dir', name: 'd', jars: [] }], [], OPTIONS),
      (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('d'),
    );
    assert.throws(
      () => packArtifact([], [{ source: 'k', name: 'k', files: [] }], OPTIONS),
      (e) => isCamelOciError(e, 'INPUT_INVALID'),
    );
    const twice = [deps()[0]!, { ...deps()[0]!, source: 'other/foo-1.0.jar' }];
    assert.throws(
      () => packArtifact(twice, [], OPTIONS),
      (e) => isCamelOciError(e, 'NAME_COLLISION'),
    );
    for (const name of ['.hidden', 'a b', '', 'x'.repeat(129), 'a/b']) {
      assert.throws(
        () => layerName(name, '--dependency x'),
        (e) => isCamelOciError(e, 'INPUT_INVALID'),
        name,
      );
    }
  });

  it('refuses a bad Kamelet, naming its path', () => {
    const bad: KameletsInput = { source: 'repo', name: 'repo', files: [{ fileName: 'bad.kamelet.yaml', data: Buffer.from('kind: [') }] };
    assert.throws(
      () => packArtifact([], [bad], OPTIONS),
      (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('repo/bad.kamelet.yaml'),
    );
  });
});
