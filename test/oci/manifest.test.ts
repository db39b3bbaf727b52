import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixtureJson, fixturePath, fixtureText } from '../helpers/fixtures.js';
import { OciError } from '../../src/base/errors.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.js';
import {
  MAX_INDEX_MANIFESTS,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_LAYERS,
  formatPlatform,
  normalizePlatform,
  parseManifest,
  parsePlatform,
  selectPlatform,
} from '../../src/oci/manifest.js';
import type { Descriptor, ImageIndex, ParsedManifest } from '../../src/oci/manifest.js';

interface SchemaCase {
  description: string;
  document: string;
  expectFail: boolean;
  documentIsValidJSON?: boolean;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const json = (v: unknown): Uint8Array => enc(JSON.stringify(v));
const HEX = (c: string): string => c.repeat(64);
const D = (c: string): string => `sha256:${HEX(c)}`;

const LAYER = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 10, digest: D('a') };
const CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  size: 2,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
};
const MANIFEST = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: CONFIG, layers: [LAYER] };

function manifestOf(p: ParsedManifest) {
  assert.equal(p.kind, 'manifest');
  return p.kind === 'manifest' ? p.manifest : assert.fail('not a manifest');
}

function indexOf(p: ParsedManifest): ImageIndex {
  assert.equal(p.kind, 'index');
  return p.kind === 'index' ? p.index : assert.fail('not an index');
}

function invalid(bytes: Uint8Array, contentType?: string): OciError {
  try {
    parseManifest(bytes, contentType);
  } catch (err) {
    assert.ok(err instanceof OciError, String(err));
    assert.equal(err.code, 'MANIFEST_INVALID');
    return err;
  }
  assert.fail('expected MANIFEST_INVALID');
}

describe('OCI schema test vectors', () => {
  const suites: Array<{ file: string; kind: 'manifest' | 'index' }> = [
    { file: 'oci-image-spec/manifest-cases.json', kind: 'manifest' },
    { file: 'oci-image-spec/image-index-cases.json', kind: 'index' },
  ];
  for (const suite of suites) {
    for (const c of fixtureJson<SchemaCase[]>(suite.file)) {
      it(`${suite.kind}: ${c.description}`, () => {
        if (c.expectFail) invalid(enc(c.document));
        else assert.equal(parseManifest(enc(c.document)).kind, suite.kind);
      });
    }
  }

  // Descriptor cases, each placed as the only layer of an otherwise valid manifest (string splice, so
  // the deliberately broken documents stay broken).
  for (const c of fixtureJson<SchemaCase[]>('oci-image-spec/descriptor-cases.json')) {
    it(`descriptor as a layer: ${c.description}`, () => {
      const doc = `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${JSON.stringify(CONFIG)},"layers":[${c.document}]}`;
      if (c.expectFail) invalid(enc(doc));
      else assert.equal(manifestOf(parseManifest(enc(doc))).layers.length, 1);
    });
  }
});

describe('spec examples and real Docker Hub documents', () => {
  it('reads the image-spec example manifest with subject and annotations', () => {
    const m = manifestOf(parseManifest(enc(fixtureText('oci-image-spec/examples/manifest-1-manifest.json'))));
    assert.equal(m.layers.length, 3);
    assert.equal(m.layers[1]?.digest, 'sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b');
    assert.equal(m.subject?.size, 7682);
    assert.deepEqual(m.annotations, { 'com.example.key1': 'value1', 'com.example.key2': 'value2' });
  });

  for (const f of ['image-index-1-image-index.json', 'image-index-2-image-index.json', 'image-layout-2-image-index.json']) {
    it(`reads the image-spec example index ${f}`, () => {
      const idx = indexOf(parseManifest(enc(fixtureText(`oci-image-spec/examples/${f}`))));
      assert.ok(idx.manifests.length >= 2);
      assert.equal(idx.mediaType, OCI_INDEX);
    });
  }

  it('reads the Docker manifest list and manifest as Docker types', () => {
    const list = parseManifest(readFileSync(fixturePath('oci-image-spec/docker-hub/docker-manifest-list-v2-4ffd0883f256.json')));
    assert.equal(list.mediaType, DOCKER_MANIFEST_LIST);
    assert.deepEqual(
      indexOf(list).manifests.map((d) => d.platform && formatPlatform(d.platform)),
      ['linux/ppc64le', 'linux/amd64', 'linux/s390x', 'linux/arm/v7', 'linux/arm64/v8'],
    );
    const m = parseManifest(readFileSync(fixturePath('oci-image-spec/docker-hub/docker-manifest-v2-888206c77cd2.json')));
    assert.equal(m.mediaType, DOCKER_MANIFEST);
    assert.deepEqual(
      manifestOf(m).layers.map((l) => l.size),
      [2310272, 913022, 9861668, 465],
    );
  });
});

describe('parseManifest media type', () => {
  const { mediaType: _omit, ...untyped } = MANIFEST;
  const cases: Array<{ name: string; doc: unknown; contentType?: string; kind: 'manifest' | 'index'; mediaType: string }> = [
    { name: 'JSON field', doc: MANIFEST, kind: 'manifest', mediaType: OCI_MANIFEST },
    {
      name: 'JSON field wins over a different header',
      doc: MANIFEST,
      contentType: DOCKER_MANIFEST,
      kind: 'manifest',
      mediaType: OCI_MANIFEST,
    },
    {
      name: 'Content-Type when the field is absent',
      doc: untyped,
      contentType: `${DOCKER_MANIFEST}; charset=utf-8`,
      kind: 'manifest',
      mediaType: DOCKER_MANIFEST,
    },
    {
      name: 'Content-Type is case-insensitive',
      doc: untyped,
      contentType: ' Application/VND.OCI.image.manifest.v1+json ',
      kind: 'manifest',
      mediaType: OCI_MANIFEST,
    },
    { name: 'shape when the header is generic', doc: untyped, contentType: 'application/json', kind: 'manifest', mediaType: OCI_MANIFEST },
    { name: 'shape without any type: index', doc: { schemaVersion: 2, manifests: [] }, kind: 'index', mediaType: OCI_INDEX },
    {
      name: 'Docker manifest list',
      doc: { schemaVersion: 2, mediaType: DOCKER_MANIFEST_LIST, manifests: [] },
      kind: 'index',
      mediaType: DOCKER_MANIFEST_LIST,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = parseManifest(json(c.doc), c.contentType);
      assert.equal(p.kind, c.kind);
      assert.equal(p.mediaType, c.mediaType);
      const doc = p.kind === 'manifest' ? p.manifest : p.index;
      assert.equal(doc.mediaType, c.mediaType);
    });
  }

  it('keeps only the fields it knows', () => {
    const m = manifestOf(parseManifest(json({ ...MANIFEST, extra: 1, layers: [{ ...LAYER, surprise: true }] })));
    assert.deepEqual(Object.keys(m).sort(), ['config', 'layers', 'mediaType', 'schemaVersion']);
    assert.deepEqual(m.layers[0], LAYER);
  });
});

describe('parseManifest refusals', () => {
  const many = (n: number) => Array.from({ length: n }, () => LAYER);
  const cases: Array<{ name: string; bytes: Uint8Array; contentType?: string; mentions: RegExp; reason?: string }> = [
    { name: 'not JSON', bytes: enc('{"schemaVersion": 2,'), mentions: /not JSON/, reason: 'not-json' },
    { name: 'a byte-order mark', bytes: enc(`\uFEFF${JSON.stringify(MANIFEST)}`), mentions: /not JSON/ },
    { name: 'invalid UTF-8', bytes: new Uint8Array([0x7b, 0xff, 0x7d]), mentions: /UTF-8/ },
    { name: 'a JSON array', bytes: json([MANIFEST]), mentions: /not a JSON object/ },
    {
      name: 'Docker schema 1 by media type',
      bytes: json({ ...MANIFEST, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }),
      mentions: /schema 1/,
      reason: 'unsupported-media-type',
    },
    { name: 'Docker schema 1 by version', bytes: json({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), mentions: /schema 1/ },
    {
      name: 'an unknown media type',
      bytes: json({ ...MANIFEST, mediaType: 'application/vnd.cncf.helm.chart.v1+json' }),
      mentions: /not one camel-oci reads/,
      reason: 'unsupported-media-type',
    },
    { name: 'schemaVersion 3', bytes: json({ ...MANIFEST, schemaVersion: 3 }), mentions: /schemaVersion must be 2/ },
    { name: 'schemaVersion as a string', bytes: json({ ...MANIFEST, schemaVersion: '2' }), mentions: /schemaVersion must be 2/ },
    {
      name: 'a manifest with manifests',
      bytes: json({ ...MANIFEST, manifests: [] }),
      mentions: /must not have manifests/,
      reason: 'ambiguous',
    },
    {
      name: 'an index with layers',
      bytes: json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], layers: [LAYER] }),
      mentions: /must not have config or layers/,
      reason: 'ambiguous',
    },
    { name: 'an index without manifests', bytes: json({ schemaVersion: 2, mediaType: OCI_INDEX }), mentions: /manifests must be an array/ },
    { name: 'a manifest without config', bytes: json({ ...MANIFEST, config: undefined }), mentions: /config must be a descriptor/ },
    { name: 'layers not an array', bytes: json({ ...MANIFEST, layers: {} }), mentions: /layers must be an array/ },
    {
      name: `more than ${MAX_MANIFEST_LAYERS} layers`,
      bytes: json({ ...MANIFEST, layers: many(MAX_MANIFEST_LAYERS + 1) }),
      mentions: /1001 layers/,
      reason: 'too-large',
    },
    {
      name: `more than ${MAX_INDEX_MANIFESTS} index entries`,
      bytes: json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: many(MAX_INDEX_MANIFESTS + 1) }),
      mentions: /1001 manifests/,
      reason: 'too-large',
    },
    {
      name: 'more than the byte limit',
      bytes: new Uint8Array(MAX_MANIFEST_BYTES + 1),
      mentions: /more than the 4194304/,
      reason: 'too-large',
    },
    {
      name: 'a fractional size',
      bytes: json({ ...MANIFEST, layers: [LAYER, { ...LAYER, size: 1.5 }] }),
      mentions: /layers\[1\]\.size must be a non-negative integer/,
    },
    { name: 'a negative size', bytes: json({ ...MANIFEST, layers: [{ ...LAYER, size: -1 }] }), mentions: /layers\[0\]\.size/ },
    { name: 'a size beyond 2^53', bytes: json({ ...MANIFEST, layers: [{ ...LAYER, size: 2 ** 53 }] }), mentions: /layers\[0\]\.size/ },
    {
      name: 'a config digest with uppercase hex',
      bytes: json({ ...MANIFEST, config: { ...CONFIG, digest: CONFIG.digest.toUpperCase().replace('SHA256', 'sha256') } }),
      mentions: /config\.digest .* lowercase/,
    },
    {
      name: 'a missing layer digest',
      bytes: json({ ...MANIFEST, layers: [{ ...LAYER, digest: undefined }] }),
      mentions: /layers\[0\]\.digest must be a string/,
    },
    {
      name: 'a non-string annotation',
      bytes: json({ ...MANIFEST, layers: [{ ...LAYER, annotations: { 'camel.apache.org.dependency': 1 } }] }),
      mentions: /layers\[0\]\.annotations\["camel\.apache\.org\.dependency"\] must be a string/,
    },
    { name: 'annotations as an array', bytes: json({ ...MANIFEST, annotations: ['a'] }), mentions: /annotations must be an object/ },
    {
      name: 'a relative url',
      bytes: json({ ...MANIFEST, layers: [{ ...LAYER, urls: ['/blobs/x'] }] }),
      mentions: /urls\[0\] is not a URL/,
    },
    {
      name: 'data that does not decode to size bytes',
      bytes: json({ ...MANIFEST, config: { ...CONFIG, data: 'e30=', size: 3 } }),
      mentions: /decodes to 2 bytes but size is 3/,
    },
    {
      name: 'an invalid artifactType',
      bytes: json({ ...MANIFEST, artifactType: 'foo/.bar' }),
      mentions: /artifactType must be a media type/,
    },
    {
      name: 'an index entry with platform but no os',
      bytes: json({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ ...LAYER, mediaType: OCI_MANIFEST, platform: { architecture: 'amd64' } }],
      }),
      mentions: /manifests\[0\]\.platform\.os must be a string/,
    },
    {
      name: 'a platform variant that is not a string',
      bytes: json({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ ...LAYER, mediaType: OCI_MANIFEST, platform: { architecture: 'arm', os: 'linux', variant: 7 } }],
      }),
      mentions: /platform\.variant must be a string/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, () => {
      const err = invalid(c.bytes, c.contentType);
      assert.match(err.message, c.mentions);
      assert.match(err.message, /re-push/);
      if (c.reason !== undefined) assert.equal(err.context.reason, c.reason);
    });
  }

  it('accepts the empty config with its embedded data', () => {
    const m = manifestOf(parseManifest(json({ ...MANIFEST, config: { ...CONFIG, data: 'e30=' } })));
    assert.equal(m.config.data, 'e30=');
  });

  it(`accepts exactly ${MAX_MANIFEST_LAYERS} layers`, () => {
    assert.equal(manifestOf(parseManifest(json({ ...MANIFEST, layers: many(MAX_MANIFEST_LAYERS) }))).layers.length, MAX_MANIFEST_LAYERS);
  });
});

describe('platforms', () => {
  it('parses and formats os/arch[/variant], lowercased', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('Linux/ARM64/V8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(formatPlatform(parsePlatform('linux/arm/v7')), 'linux/arm/v7');
  });

  for (const bad of [
    '',
    'linux',
    'linux/',
    '/amd64',
    'linux//amd64',
    'linux/amd64/v8/x',
    'linux/amd 64',
    'linux/amd64\n',
    `linux/${'a'.repeat(200)}`,
  ]) {
    it(`refuses platform ${JSON.stringify(bad.slice(0, 30))}`, () => {
      assert.throws(
        () => parsePlatform(bad),
        (err: unknown) => err instanceof OciError && err.code === 'CONFIG_INVALID' && /os\/architecture\[\/variant\]/.test(err.message),
      );
    });
  }

  it('normalizes aliases and default variants', () => {
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'x86_64' }), { os: 'linux', architecture: 'amd64', variant: 'v1' });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64' }), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: '8' }), {
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
    });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armhf' }), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 's390x' }), { os: 'linux', architecture: 's390x', variant: '' });
  });
});

describe('selectPlatform', () => {
  const dockerHubList = indexOf(
    parseManifest(readFileSync(fixturePath('oci-image-spec/docker-hub/docker-manifest-list-v2-4ffd0883f256.json'))),
  );
  const DIGEST = {
    ppc64le: 'sha256:7820f9a86d4ad15a2c4f0c0e5479298df2aa7c2f6871288e2ef8546f3e7b6783',
    amd64: 'sha256:ae1b0e06e8ade3a11267564a26e750585ba2259c0ecab59ab165ad1af41d1bdd',
    s390x: 'sha256:e4c0df75810b953d6717b8f8f28298d73870e8aa2a0d5e77b8391f16fdfbbbe2',
    armv7: 'sha256:07ebe243465ef4a667b78154ae6c3ea46fdb1582936aac3ac899ea311a701b40',
    arm64: 'sha256:fb2fc0707b86dafa9959fe3d29e66af8787aee4d9a23581714be65db4265ad8a',
  };
  const matches: Array<{ wanted: string | undefined; digest: string }> = [
    { wanted: undefined, digest: DIGEST.amd64 },
    { wanted: 'linux/amd64', digest: DIGEST.amd64 },
    { wanted: 'linux/amd64/v2', digest: DIGEST.amd64 }, // a v2 CPU runs v1 images
    { wanted: 'linux/x86_64', digest: DIGEST.amd64 },
    { wanted: 'linux/arm64', digest: DIGEST.arm64 }, // index says v8, the default for arm64
    { wanted: 'linux/arm64/v8', digest: DIGEST.arm64 },
    { wanted: 'linux/arm', digest: DIGEST.armv7 },
    { wanted: 'linux/arm/v8', digest: DIGEST.armv7 },
    { wanted: 'linux/ppc64le', digest: DIGEST.ppc64le },
    { wanted: 'linux/s390x', digest: DIGEST.s390x },
  ];
  for (const c of matches) {
    it(`picks ${c.wanted ?? '(default)'} from the Docker Hub manifest list`, () => {
      assert.equal(selectPlatform(dockerHubList, c.wanted).digest, c.digest);
    });
  }

  for (const wanted of ['windows/amd64', 'linux/arm/v6', 'linux/riscv64', 'linux/arm64/v9']) {
    it(`reports what exists when ${wanted} is missing`, () => {
      assert.throws(
        () => selectPlatform(dockerHubList, wanted),
        (err: unknown) => {
          assert.ok(err instanceof OciError);
          assert.equal(err.code, 'PLATFORM_NOT_FOUND');
          assert.match(err.message, new RegExp(`no image for ${wanted}`));
          assert.match(err.message, /linux\/ppc64le, linux\/amd64, linux\/s390x, linux\/arm\/v7, linux\/arm64\/v8/);
          assert.match(err.message, /--platform/);
          return true;
        },
      );
    });
  }

  it('refuses a malformed wanted platform with CONFIG_INVALID', () => {
    assert.throws(
      () => selectPlatform(dockerHubList, 'amd64'),
      (err: unknown) => err instanceof OciError && err.code === 'CONFIG_INVALID',
    );
  });

  const child = (digest: string, platform?: Descriptor['platform'], extra: Partial<Descriptor> = {}): Descriptor => ({
    mediaType: OCI_MANIFEST,
    digest,
    size: 100,
    ...(platform !== undefined ? { platform } : {}),
    ...extra,
  });
  const index = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  const attestation = child(
    D('9'),
    { os: 'unknown', architecture: 'unknown' },
    {
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': D('1') },
    },
  );

  it('needs no platform match when the index has one image manifest (others are attestations, indexes, other content)', () => {
    const idx = indexOf(parseManifest(enc(fixtureText('oci-image-spec/examples/image-layout-2-image-index.json'))));
    assert.equal(selectPlatform(idx, undefined).digest, 'sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f');
    assert.equal(selectPlatform(index(child(D('1'), { os: 'linux', architecture: 'arm64' }), attestation), 'linux/amd64').digest, D('1'));
    assert.equal(selectPlatform(index(child(D('2'))), undefined).digest, D('2'));
  });

  it('never picks an attestation, even by its platform', () => {
    const idx = index(
      child(D('1'), { os: 'linux', architecture: 'amd64' }),
      attestation,
      child(D('2'), { os: 'linux', architecture: 'arm64' }),
    );
    assert.equal(selectPlatform(idx, undefined).digest, D('1'));
    assert.throws(
      () => selectPlatform(idx, 'unknown/unknown'),
      (err: unknown) => err instanceof OciError && err.code === 'PLATFORM_NOT_FOUND',
    );
    // Annotated as an attestation but with a real-looking platform: still not an image.
    const sneaky = child(
      D('3'),
      { os: 'linux', architecture: 's390x' },
      { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
    );
    assert.throws(() =>
      selectPlatform(
        index(child(D('1'), { os: 'linux', architecture: 'amd64' }), child(D('2'), { os: 'linux', architecture: 'arm64' }), sneaky),
        'linux/s390x',
      ),
    );
  });

  it('says so when the index has no image manifest at all', () => {
    const idx = index(attestation, child(D('4'), undefined, { mediaType: OCI_INDEX }));
    assert.throws(
      () => selectPlatform(idx, undefined),
      (err: unknown) => err instanceof OciError && err.code === 'PLATFORM_NOT_FOUND' && /no image manifest \(2 entries/.test(err.message),
    );
  });

  it('prefers the default variant, else the best compatible level, else any variant when none was asked', () => {
    const v1 = child(D('1'), { os: 'linux', architecture: 'amd64' });
    const v3 = child(D('3'), { os: 'linux', architecture: 'amd64', variant: 'v3' });
    const arm = child(D('a'), { os: 'linux', architecture: 'arm64' });
    assert.equal(selectPlatform(index(v3, v1, arm), undefined).digest, D('1'));
    assert.equal(selectPlatform(index(v3, v1, arm), 'linux/amd64/v3').digest, D('3'));
    assert.equal(selectPlatform(index(v1, v3, arm), 'linux/amd64/v4').digest, D('3'));
    assert.equal(selectPlatform(index(v3, arm), 'linux/amd64').digest, D('3'));
    assert.throws(
      () => selectPlatform(index(v3, arm), 'linux/amd64/v2'),
      (err: unknown) => err instanceof OciError && err.code === 'PLATFORM_NOT_FOUND',
    );
  });

  it('takes the first of equal matches (image-index.md)', () => {
    const a = child(D('1'), { os: 'linux', architecture: 'amd64' });
    const b = child(D('2'), { os: 'linux', architecture: 'amd64' });
    assert.equal(selectPlatform(index(a, b, child(D('3'), { os: 'linux', architecture: 'arm64' })), undefined).digest, D('1'));
  });

  it('counts image manifests without a platform in the message', () => {
    const idx = index(child(D('1'), { os: 'linux', architecture: 'arm64' }), child(D('2')));
    assert.throws(
      () => selectPlatform(idx, 'linux/amd64'),
      (err: unknown) => err instanceof OciError && /it has linux\/arm64, and 1 image manifest without a platform/.test(err.message),
    );
  });

  it('refuses to pin a manifest addressed by anything but sha256', () => {
    const idx = index(
      child(`sha512:${'a'.repeat(128)}`, { os: 'linux', architecture: 'amd64' }),
      child(D('2'), { os: 'linux', architecture: 'arm64' }),
    );
    assert.throws(
      () => selectPlatform(idx, undefined),
      (err: unknown) => err instanceof OciError && err.code === 'UNSUPPORTED' && /sha256/.test(err.message),
    );
  });
});
