import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResolvedArtifact, SelectedLayer } from '../../src/plan/artifact.js';
import {
  MAX_PLAN_ARTIFACTS,
  MAX_PLAN_BYTES,
  MAX_PLAN_LAYERS,
  MAX_PLAN_MIRRORS,
  buildPlan,
  classpathEntry,
  digestHex12,
  isPlainFileName,
  layerTarget,
  parsePlan,
  planClasspath,
} from '../../src/plan/plan.js';
import type { FetchPlan } from '../../src/plan/plan.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

function layer(digest: string, extra: Partial<SelectedLayer> = {}): SelectedLayer {
  return {
    digest,
    size: 10,
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    kind: 'dependency',
    format: 'tar+gzip',
    name: 'deps',
    ...extra,
  };
}

function artifact(reference: string, layers: SelectedLayer[], extra: Partial<ResolvedArtifact> = {}): ResolvedArtifact {
  return {
    reference,
    domain: 'registry.example.com',
    registry: 'registry.example.com',
    repository: 'acme/deps',
    scheme: 'https',
    digest: d('f'),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    layers,
    ignored: [],
    ...extra,
  };
}

/** A valid plan as plain JSON, for the strictness vectors to break one field at a time. */
function validPlan(): any {
  return {
    version: 1,
    artifacts: [
      {
        reference: 'registry.example.com/acme/deps:1.0',
        registry: 'registry.example.com:5000',
        repository: 'acme/deps',
        scheme: 'https',
        digest: d('f'),
        layers: [
          {
            digest: d('a'),
            size: 10,
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            kind: 'dependency',
            format: 'tar+gzip',
            target: `dependencies/${'a'.repeat(12)}`,
          },
          {
            digest: d('b'),
            size: 0,
            mediaType: 'application/java-archive',
            kind: 'dependency',
            format: 'raw',
            target: `dependencies/${'b'.repeat(12)}`,
            fileName: 'lib-1.0.jar',
          },
          {
            digest: d('c'),
            size: 5,
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            kind: 'kamelets',
            format: 'tar',
            target: `kamelets/${'c'.repeat(12)}`,
          },
        ],
      },
    ],
  };
}

describe('parsePlan', () => {
  it('accepts a valid plan and returns exactly its fields', () => {
    const plan = parsePlan(JSON.stringify(validPlan()));
    assert.deepEqual(plan, validPlan());
  });

  it('accepts an IPv6 registry with a port, and a plain-HTTP one', () => {
    const p = validPlan();
    p.artifacts[0].registry = '[::1]:5000';
    p.artifacts[0].scheme = 'http';
    assert.equal(parsePlan(JSON.stringify(p)).artifacts[0]!.registry, '[::1]:5000');
  });

  it('accepts mirrors per artifact and image mount points, in order', () => {
    const p = validPlan();
    p.artifacts[0].mirrors = [
      { registry: 'mirror.example.com', scheme: 'https' },
      { registry: '127.0.0.1:5001', scheme: 'http' },
    ];
    p.imageMounts = [`images/${'d'.repeat(12)}`];
    assert.deepEqual(parsePlan(JSON.stringify(p)), p);
  });

  it('drops fields it does not know (nothing unknown reaches the fetcher)', () => {
    const p = validPlan();
    p.artifacts[0].extra = 'x';
    p.artifacts[0].layers[0].urls = ['http://elsewhere.example/'];
    const plan = parsePlan(JSON.stringify(p));
    assert.ok(!('extra' in plan.artifacts[0]!));
    assert.ok(!('urls' in plan.artifacts[0]!.layers[0]!));
  });

  const invalid: { name: string; edit: (p: any) => unknown; message: RegExp }[] = [
    { name: 'not JSON', edit: () => '{', message: /not JSON/ },
    { name: 'an array', edit: () => [], message: /not a JSON object/ },
    { name: 'version 2', edit: (p) => ((p.version = 2), p), message: /unsupported version 2 \(expected 1\)/ },
    { name: 'version as a string', edit: (p) => ((p.version = '1'), p), message: /unsupported version "1"/ },
    { name: 'no artifacts', edit: (p) => ((p.artifacts = []), p), message: /artifacts must be a non-empty array/ },
    { name: 'empty mirrors', edit: (p) => ((p.artifacts[0].mirrors = []), p), message: /mirrors must be an array of 1 to 8/ },
    {
      name: `more than ${MAX_PLAN_MIRRORS} mirrors`,
      edit: (p) => ((p.artifacts[0].mirrors = Array(MAX_PLAN_MIRRORS + 1).fill({ registry: 'm.example', scheme: 'https' })), p),
      message: /mirrors must be an array of 1 to 8/,
    },
    {
      name: 'a mirror with a path',
      edit: (p) => ((p.artifacts[0].mirrors = [{ registry: 'm.example/v2', scheme: 'https' }]), p),
      message: /mirrors\[0\]\.registry "m\.example\/v2" is not a host\[:port\]/,
    },
    {
      name: 'a mirror with another scheme',
      edit: (p) => ((p.artifacts[0].mirrors = [{ registry: 'm.example', scheme: 'ftp' }]), p),
      message: /mirrors\[0\]\.scheme must be "https" or "http"/,
    },
    {
      name: 'an image mount outside images/',
      edit: (p) => ((p.imageMounts = [`../${'a'.repeat(12)}`]), p),
      message: /imageMounts\[0\] must be "images\/<12 hex digits>"/,
    },
    {
      name: 'an image mount one level too deep',
      edit: (p) => ((p.imageMounts = [`images/${'a'.repeat(12)}/x`]), p),
      message: /imageMounts\[0\] must be/,
    },
    { name: 'empty image mounts', edit: (p) => ((p.imageMounts = []), p), message: /imageMounts must be an array of 1 to 64/ },
    {
      name: `more than ${MAX_PLAN_ARTIFACTS} artifacts`,
      edit: (p) => ((p.artifacts = Array(MAX_PLAN_ARTIFACTS + 1).fill(p.artifacts[0])), p),
      message: /more than 64 artifacts/,
    },
    { name: 'an artifact that is not an object', edit: (p) => ((p.artifacts[0] = 'x'), p), message: /artifacts\[0\] is not an object/ },
    {
      name: 'a registry with a path',
      edit: (p) => ((p.artifacts[0].registry = 'registry.example.com/evil'), p),
      message: /artifacts\[0\]\.registry .* is not a host\[:port\]/,
    },
    {
      name: 'a registry with user info',
      edit: (p) => ((p.artifacts[0].registry = 'user@registry.example.com'), p),
      message: /is not a host\[:port\]/,
    },
    {
      name: 'an empty registry',
      edit: (p) => ((p.artifacts[0].registry = ''), p),
      message: /artifacts\[0\]\.registry must be a non-empty string/,
    },
    {
      name: 'an upper-case repository',
      edit: (p) => ((p.artifacts[0].repository = 'Acme/deps'), p),
      message: /repository "Acme\/deps" is not a repository name/,
    },
    { name: 'a repository with ..', edit: (p) => ((p.artifacts[0].repository = 'acme/../deps'), p), message: /is not a repository name/ },
    { name: 'scheme ftp', edit: (p) => ((p.artifacts[0].scheme = 'ftp'), p), message: /scheme must be "https" or "http"/ },
    {
      name: 'a sha512 manifest digest',
      edit: (p) => ((p.artifacts[0].digest = `sha512:${'a'.repeat(128)}`), p),
      message: /artifacts\[0\]\.digest .* is not a sha256 digest/,
    },
    {
      name: 'an upper-case hex digest',
      edit: (p) => ((p.artifacts[0].digest = `sha256:${'A'.repeat(64)}`), p),
      message: /is not a sha256 digest/,
    },
    { name: 'no layers', edit: (p) => ((p.artifacts[0].layers = []), p), message: /layers must be a non-empty array/ },
    { name: 'a layer that is not an object', edit: (p) => ((p.artifacts[0].layers[0] = null), p), message: /layers\[0\] is not an object/ },
    {
      name: 'a short layer digest',
      edit: (p) => ((p.artifacts[0].layers[0].digest = 'sha256:abc'), p),
      message: /layers\[0\]\.digest "sha256:abc" is not a sha256 digest/,
    },
    { name: 'a negative size', edit: (p) => ((p.artifacts[0].layers[0].size = -1), p), message: /size must be a non-negative integer/ },
    { name: 'a fractional size', edit: (p) => ((p.artifacts[0].layers[0].size = 1.5), p), message: /size must be a non-negative integer/ },
    { name: 'a size as text', edit: (p) => ((p.artifacts[0].layers[0].size = '10'), p), message: /size must be a non-negative integer/ },
    {
      name: 'an unknown kind',
      edit: (p) => ((p.artifacts[0].layers[0].kind = 'plugin'), p),
      message: /kind must be "dependency" or "kamelets"/,
    },
    {
      name: 'an unknown format',
      edit: (p) => ((p.artifacts[0].layers[0].format = 'zip'), p),
      message: /format must be "tar", "tar\+gzip" or "raw"/,
    },
    {
      name: 'a target that escapes the volume',
      edit: (p) => ((p.artifacts[0].layers[0].target = '../../etc'), p),
      message: /layers\[0\]\.target "\.\.\/\.\.\/etc" must be "dependencies\/aaaaaaaaaaaa"/,
    },
    {
      name: 'a target of the other kind',
      edit: (p) => ((p.artifacts[0].layers[0].target = `kamelets/${'a'.repeat(12)}`), p),
      message: /must be "dependencies\/aaaaaaaaaaaa"/,
    },
    {
      name: 'two digests planned into one target (same first 12 hex)',
      edit: (p) => {
        const twin = `sha256:${'a'.repeat(12)}${'0'.repeat(52)}`;
        p.artifacts[0].layers.push({ ...p.artifacts[0].layers[0], digest: twin });
        return p;
      },
      message: /layers\[3\]\.target dependencies\/aaaaaaaaaaaa is planned twice/,
    },
    {
      name: 'a raw layer without a file name',
      edit: (p) => (delete p.artifacts[0].layers[1].fileName, p),
      message: /layers\[1\]\.fileName must be a non-empty string/,
    },
    {
      name: 'a raw file name with a slash',
      edit: (p) => ((p.artifacts[0].layers[1].fileName = '../x.jar'), p),
      message: /fileName "\.\.\/x\.jar" is not a plain file name/,
    },
    {
      name: 'a hidden raw file name',
      edit: (p) => ((p.artifacts[0].layers[1].fileName = '.bashrc'), p),
      message: /is not a plain file name/,
    },
    {
      name: 'a file name on a tar layer',
      edit: (p) => ((p.artifacts[0].layers[0].fileName = 'x.jar'), p),
      message: /layers\[0\]\.fileName is only allowed for raw layers/,
    },
    {
      name: 'no reference',
      edit: (p) => (delete p.artifacts[0].reference, p),
      message: /artifacts\[0\]\.reference must be a non-empty string/,
    },
    {
      name: 'a media type over 4096 characters',
      edit: (p) => ((p.artifacts[0].layers[0].mediaType = 'a'.repeat(4097)), p),
      message: /mediaType must be a non-empty string/,
    },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with PLAN_INVALID`, () => {
      const edited = c.edit(validPlan());
      const text = typeof edited === 'string' ? edited : JSON.stringify(edited);
      assert.throws(
        () => parsePlan(text),
        (err: any) => err.code === 'PLAN_INVALID' && /^invalid fetch plan: /.test(err.message) && c.message.test(err.message),
      );
    });
  }

  it(`refuses more than ${MAX_PLAN_LAYERS} layers over all artifacts`, () => {
    const p = validPlan();
    const one = p.artifacts[0];
    const layers = Array.from({ length: 100 }, (_, i) => {
      const digest = `sha256:${i.toString(16).padStart(12, '0')}${'0'.repeat(52)}`;
      return { ...one.layers[0], digest, target: layerTarget('dependency', digest) };
    });
    p.artifacts = [0, 1, 2].map(() => ({ ...one, layers }));
    assert.throws(() => parsePlan(JSON.stringify(p)), /more than 256 layers/);
    p.artifacts = [0, 1].map(() => ({ ...one, layers }));
    assert.equal(parsePlan(JSON.stringify(p)).artifacts.length, 2, '200 layers, the same digests twice, are fine');
  });

  it(`refuses text over ${MAX_PLAN_BYTES} bytes before parsing it`, () => {
    const p = validPlan();
    p.padding = ' '.repeat(MAX_PLAN_BYTES);
    assert.throws(() => parsePlan(JSON.stringify(p)), /larger than 262144 bytes/);
  });
});

describe('buildPlan', () => {
  it('plans each layer once: a layer shared by two artifacts goes with the first', () => {
    const shared = layer(d('a'));
    const plan = buildPlan([
      artifact('r/a:1', [shared, layer(d('b'), { kind: 'kamelets', format: 'tar' })]),
      artifact('r/b:1', [shared, layer(d('c'))], { digest: d('e') }),
    ]);
    assert.deepEqual(
      plan.artifacts.map((a) => a.layers.map((l) => l.target)),
      [[`dependencies/${'a'.repeat(12)}`, `kamelets/${'b'.repeat(12)}`], [`dependencies/${'c'.repeat(12)}`]],
    );
  });

  it('drops an artifact whose layers were all planned already (the same artifact by tag and by digest)', () => {
    const layers = [layer(d('a')), layer(d('b'))];
    const plan = buildPlan([artifact('r/a:1', layers), artifact(`r/a@${d('f')}`, layers)]);
    assert.equal(plan.artifacts.length, 1);
    assert.equal(plan.artifacts[0]!.reference, 'r/a:1');
  });

  it('plans a digest once per kind: the same blob as dependency and as kamelets lands twice', () => {
    const plan = buildPlan([artifact('r/a:1', [layer(d('a')), layer(d('a'), { kind: 'kamelets' })])]);
    assert.deepEqual(
      plan.artifacts[0]!.layers.map((l) => l.target),
      [`dependencies/${'a'.repeat(12)}`, `kamelets/${'a'.repeat(12)}`],
    );
  });

  it('keeps a raw layer file name, and only for raw layers', () => {
    const plan = buildPlan([
      artifact('r/a:1', [layer(d('a'), { format: 'raw', fileName: 'x.jar' }), layer(d('b'), { fileName: 'ignored.jar' })]),
    ]);
    assert.equal(plan.artifacts[0]!.layers[0]!.fileName, 'x.jar');
    assert.ok(!('fileName' in plan.artifacts[0]!.layers[1]!));
  });

  it('builds what parsePlan accepts, unchanged', () => {
    const plan: FetchPlan = buildPlan([
      artifact('r/a:1', [layer(d('a')), layer(d('b'), { format: 'raw', fileName: 'b.jar' })]),
      artifact('r/b:1', [layer(d('c'), { kind: 'kamelets', format: 'tar' })], {
        scheme: 'http',
        registry: '127.0.0.1:5000',
        digest: d('e'),
        mirrors: [{ registry: '127.0.0.1:5001', scheme: 'http' }],
      }),
    ]);
    assert.deepEqual(plan.artifacts[1]!.mirrors, [{ registry: '127.0.0.1:5001', scheme: 'http' }]);
    assert.ok(!('mirrors' in plan.artifacts[0]!), 'no mirrors field when none is configured');
    assert.deepEqual(parsePlan(JSON.stringify(plan)), plan);
  });
});

describe('layout', () => {
  it('places layers by kind and the first 12 hex of the digest; the classpath lists each once', () => {
    assert.equal(digestHex12(d('a')), 'a'.repeat(12));
    assert.equal(layerTarget('kamelets', d('b')), `kamelets/${'b'.repeat(12)}`);
    assert.equal(classpathEntry({ kind: 'dependency', target: 'dependencies/x' }), '/camel-oci/dependencies/x/*');
    assert.equal(classpathEntry({ kind: 'kamelets', target: 'kamelets/x' }, '/m'), '/m/kamelets/x');
    const plan = buildPlan([
      artifact('r/a:1', [layer(d('a')), layer(d('a'), { kind: 'kamelets' })]),
      artifact('r/b:1', [layer(d('b'))], { digest: d('e') }),
    ]);
    assert.deepEqual(planClasspath(plan), [
      `/camel-oci/dependencies/${'a'.repeat(12)}/*`,
      `/camel-oci/kamelets/${'a'.repeat(12)}`,
      `/camel-oci/dependencies/${'b'.repeat(12)}/*`,
    ]);
  });

  it('accepts only plain single-segment file names', () => {
    for (const ok of ['a.jar', 'camel-core-4.4.0.jar', '_x', '+y']) assert.ok(isPlainFileName(ok), ok);
    for (const bad of ['', '.jar', '..', 'a/b.jar', 'a\\b', 'a b.jar', 'x'.repeat(256), 'a\u0000b'])
      assert.ok(!isPlainFileName(bad), JSON.stringify(bad));
  });
});
