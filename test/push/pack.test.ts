/** Packing without I/O: tar bytes, gzip header, Maven coordinates, Kamelet checks, reproducibility. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { Parser } from 'tar';
import { isCamelOciError } from '../../src/base/errors.js';
import { selectLayers } from '../../src/resolve/layers.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { formatCoordinates, mavenCoordinates, parseProperties } from '../../src/push/jar.js';
import { checkKamelet, createdFromSourceDateEpoch, layerName, packArtifact, reproducibleGzip } from '../../src/push/pack.js';
import type { DependencyInput, KameletsInput } from '../../src/push/pack.js';
import { writeTar } from '../../src/push/tar.js';
import { makeJar, makeZip } from '../helpers/zip.js';

const KAMELET = Buffer.from('apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: acme-source\n');
const FOO = makeJar({ groupId: 'com.acme', artifactId: 'foo', version: '1.0' });
const BAR = makeJar();

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

interface Listed {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  uname: string;
  data: Buffer;
}

/** Lists a tar with node-tar (an independent reader), in archive order. */
async function listTar(tar: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () =>
          out.push({
            path: entry.path,
            type: entry.type,
            mode: entry.mode ?? -1,
            uid: entry.uid ?? -1,
            gid: entry.gid ?? -1,
            mtime: entry.mtime?.getTime() ?? -1,
            size: entry.size ?? -1,
            uname: entry.uname ?? '',
            data: Buffer.concat(chunks),
          }),
        );
      },
    });
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(tar);
  });
  return out;
}

const deps = (): DependencyInput[] => [
  { source: 'libs/foo-1.0.jar', kind: 'jar', name: 'foo-1.0', jars: [{ fileName: 'foo-1.0.jar', data: FOO }] },
  { source: 'target/lib', kind: 'dir', name: 'lib', jars: [{ fileName: 'z.jar', data: BAR }, { fileName: 'a.jar', data: FOO }] },
];
const repos = (): KameletsInput[] => [{ source: 'kamelets', name: 'acme', files: [{ fileName: 'acme-source.kamelet.yaml', data: KAMELET }] }];
const OPTIONS = { os: 'linux', architecture: 'amd64' };

describe('tar writer', () => {
  it('writes sorted entries with fixed owners, modes and times that node-tar reads back', async () => {
    const tar = writeTar([
      { type: 'file', path: 'dependencies/x/b.jar', data: Buffer.from('bbb') },
      { type: 'dir', path: 'dependencies' },
      { type: 'file', path: 'dependencies/x/a.jar', data: Buffer.alloc(513, 1) },
      { type: 'dir', path: 'dependencies/x' },
    ]);
    assert.equal(tar.length % 512, 0);
    const entries = await listTar(tar);
    assert.deepEqual(entries.map((e) => e.path), ['dependencies/', 'dependencies/x/', 'dependencies/x/a.jar', 'dependencies/x/b.jar']);
    for (const e of entries) {
      assert.equal(e.uid, 0);
      assert.equal(e.gid, 0);
      assert.equal(e.mtime, 0);
      assert.equal(e.uname, '');
      assert.equal(e.mode, e.type === 'Directory' ? 0o755 : 0o644);
    }
    assert.deepEqual(entries[2]!.data, Buffer.alloc(513, 1));
  });

  it('splits a long path over the ustar prefix and refuses one that cannot fit', async () => {
    const long = `kamelets/${'k'.repeat(60)}/kamelets/${'n'.repeat(80)}.kamelet.yaml`;
    const [entry] = await listTar(writeTar([{ type: 'file', path: long, data: Buffer.from('x') }]));
    assert.equal(entry!.path, long);
    assert.throws(() => writeTar([{ type: 'file', path: `a/${'n'.repeat(120)}`, data: Buffer.from('x') }]), (e) => isCamelOciError(e, 'CONFIG_INVALID'));
  });

  it('refuses unclean and duplicate paths', () => {
    for (const path of ['/abs', 'a/../b', 'a//b', './a']) {
      assert.throws(() => writeTar([{ type: 'file', path, data: Buffer.from('') }]), (e) => isCamelOciError(e, 'INTERNAL'), path);
    }
    assert.throws(() => writeTar([{ type: 'dir', path: 'a' }, { type: 'dir', path: 'a' }]), (e) => isCamelOciError(e, 'NAME_COLLISION'));
  });
});

describe('gzip', () => {
  it('has mtime 0, no name, a fixed OS byte, and round-trips', () => {
    const gz = reproducibleGzip(Buffer.from('hello'));
    assert.deepEqual([...gz.subarray(0, 4)], [0x1f, 0x8b, 8, 0], 'deflate, no FNAME/FEXTRA/FCOMMENT flags');
    assert.equal(gz.readUInt32LE(4), 0, 'mtime');
    assert.equal(gz[9], 0xff, 'OS byte');
    assert.equal(gunzipSync(gz).toString(), 'hello');
  });
});

describe('Maven coordinates from a jar', () => {
  it('reads a deflated pom.properties', () => {
    assert.equal(formatCoordinates(mavenCoordinates(FOO)!), 'com.acme:foo:1.0');
  });

  it('reads a stored pom.properties', () => {
    const jar = makeZip([{ name: 'META-INF/maven/org.x/y/pom.properties', data: 'groupId=org.x\nartifactId=y\nversion=2.1\n' }]);
    assert.equal(formatCoordinates(mavenCoordinates(jar)!), 'org.x:y:2.1');
  });

  it('takes the shaded jar\'s own coordinates by file name, else none', () => {
    const shaded = makeJar({ groupId: 'com.acme', artifactId: 'app', version: '3.0' }, [
      { name: 'META-INF/maven/org.dep/lib/pom.properties', data: 'groupId=org.dep\nartifactId=lib\nversion=9\n' },
    ]);
    assert.equal(formatCoordinates(mavenCoordinates(shaded, 'app-3.0-shaded.jar')!), 'com.acme:app:3.0');
    assert.equal(mavenCoordinates(shaded, 'other.jar'), undefined);
  });

  const unreadable: Array<[string, Buffer]> = [
    ['no pom.properties', BAR],
    ['not a zip', Buffer.from('just text, long enough to look for an end record')],
    ['empty', Buffer.alloc(0)],
    ['truncated', FOO.subarray(0, FOO.length - 10)],
    ['incomplete properties', makeZip([{ name: 'META-INF/maven/a/b/pom.properties', data: 'groupId=a\n' }])],
  ];
  for (const [name, bytes] of unreadable) {
    it(`gives none for a jar with ${name}`, () => assert.equal(mavenCoordinates(bytes), undefined));
  }

  it('does not inflate past its bound (a pom.properties that lies about its size, a deflate bomb)', () => {
    const bomb = makeZip([{ name: 'META-INF/maven/a/b/pom.properties', data: Buffer.alloc(1024 * 1024, 0x41), deflate: true }]);
    assert.equal(mavenCoordinates(bomb), undefined);
    // Patch the central directory's uncompressed size to a small lie: inflate still stops at the bound.
    const lying = Buffer.from(bomb);
    const central = lying.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    lying.writeUInt32LE(100, central + 24);
    assert.equal(mavenCoordinates(lying), undefined);
  });

  it('parses properties with comments and separators', () => {
    assert.deepEqual([...parseProperties('# c\n! c\na=1\nb : 2\r\nc 3\n')], [['a', '1'], ['b', '2'], ['c', '3']]);
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
    assert.deepEqual(parsed.manifest.layers.map((l) => l.annotations), [
      { 'camel.apache.org.dependency': 'com.acme:foo:1.0', 'org.opencontainers.image.title': 'dependencies-foo-1.0.tar.gz' },
      { 'camel.apache.org.dependency': 'lib', 'org.opencontainers.image.title': 'dependencies-lib.tar.gz' },
      { 'camel.apache.org.kamelets.repository': 'acme', 'org.opencontainers.image.title': 'kamelets-acme.tar.gz' },
    ]);
    const selected = selectLayers(parsed.manifest);
    assert.deepEqual(selected.ignored, []);
    assert.deepEqual(selected.layers.map((l) => [l.kind, l.format, l.name]), [
      ['dependency', 'tar+gzip', 'com.acme:foo:1.0'],
      ['dependency', 'tar+gzip', 'lib'],
      ['kamelets', 'tar+gzip', 'acme'],
    ]);
    const config = JSON.parse(art.config.bytes.toString()) as { os: string; architecture: string; rootfs: { type: string; diff_ids: string[] } };
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
    assert.throws(() => createdFromSourceDateEpoch('yesterday'), (e) => isCamelOciError(e, 'CONFIG_INVALID'));
  });

  it('changes the digest when one byte of one input changes', () => {
    const changed = deps();
    changed[1] = { ...changed[1]!, jars: [{ fileName: 'z.jar', data: Buffer.concat([BAR, Buffer.from([0])]) }, changed[1]!.jars[1]!] };
    assert.notEqual(packArtifact(changed, repos(), OPTIONS).manifest.digest, packArtifact(deps(), repos(), OPTIONS).manifest.digest);
  });

  it('refuses nothing to pack, empty inputs, duplicate names and bad names', () => {
    assert.throws(() => packArtifact([], [], OPTIONS), (e) => isCamelOciError(e, 'CONFIG_INVALID'));
    assert.throws(() => packArtifact([{ source: 'd', kind: 'dir', name: 'd', jars: [] }], [], OPTIONS), (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('d'));
    assert.throws(() => packArtifact([], [{ source: 'k', name: 'k', files: [] }], OPTIONS), (e) => isCamelOciError(e, 'INPUT_INVALID'));
    const twice = [deps()[0]!, { ...deps()[0]!, source: 'other/foo-1.0.jar' }];
    assert.throws(() => packArtifact(twice, [], OPTIONS), (e) => isCamelOciError(e, 'NAME_COLLISION'));
    for (const name of ['.hidden', 'a b', '', 'x'.repeat(129), 'a/b']) {
      assert.throws(() => layerName(name, '--dependency x'), (e) => isCamelOciError(e, 'INPUT_INVALID'), name);
    }
  });

  it('refuses a bad Kamelet, naming its path', () => {
    const bad: KameletsInput = { source: 'repo', name: 'repo', files: [{ fileName: 'bad.kamelet.yaml', data: Buffer.from('kind: [') }] };
    assert.throws(() => packArtifact([], [bad], OPTIONS), (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('repo/bad.kamelet.yaml'));
  });
});
