/** The audit's pure parts: annotation parsers, grouping, every finding code, table and JSON. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isCamelOciError } from '../../src/base/errors.js';
import { resolvedAnnotationValue } from '../../src/inject/resolved.js';
import { ANNOTATION_PINNED } from '../../src/inject/annotations.js';
import { MAX_RESOLVED_CHARS, parsePins, parseResolvedAnnotation, referenceKey } from '../../src/audit/annotations.js';
import {
  AUDIT_API_VERSION,
  buildReport,
  exitCode,
  FINDING_CODES,
  tagsToCheck,
  withTagChecks,
  type AuditObjects,
  type AuditReport,
  type Finding,
} from '../../src/audit/report.js';
import { DEFAULT_TABLE_WIDTH, formatJson, formatTable } from '../../src/audit/format.js';
import { artifactFor } from '../webhook/support.js';
import { CAMEL_OCI_ARTIFACT_TYPE, OCI_IMAGE_CONFIG } from '../../src/oci/media-types.js';
import { integration, integrationPod, pinsValue, pipe, pipeIntegration, type Obj } from './support.js';

const DEPS_REF = 'registry.acme.example/acme/deps:1.0';
const KAMELETS_REF = 'registry.acme.example/acme/kamelets:2.1';
const HEX = (c: string): string => `sha256:${c.repeat(64)}`;
const deps = artifactFor(DEPS_REF);
const kamelets = artifactFor(KAMELETS_REF);
const depsMoved = artifactFor(DEPS_REF, { digest: HEX('a') });

function objects(o: Partial<AuditObjects>): AuditObjects {
  return { pods: [], integrations: [], pipes: [], camelApi: true, ...o };
}

function report(o: Partial<AuditObjects>): AuditReport {
  return buildReport(objects(o), { namespace: 'demo', allNamespaces: false });
}

function codes(r: AuditReport): string[] {
  return r.findings.map((f) => f.code);
}

function only(r: AuditReport, code: string): Finding {
  const found = r.findings.filter((f) => f.code === code);
  assert.equal(found.length, 1, `one ${code} in ${JSON.stringify(r.findings, null, 1)}`);
  return found[0]!;
}

/** A healthy integration: pinned Integration, two injected replicas on the pins. */
function healthy(name = 'hello', namespace = 'demo'): { integrations: Obj[]; pods: Obj[] } {
  const pinned = [deps, kamelets];
  const pins = { [ANNOTATION_PINNED]: pinsValue(pinned) };
  return {
    integrations: [integration(name, { namespace, request: [DEPS_REF, KAMELETS_REF], pinned })],
    pods: ['abcde', 'fghij'].map((suffix, i) =>
      integrationPod(name, {
        namespace,
        suffix,
        created: `2026-12-02T10:0${i}:00Z`,
        request: [DEPS_REF, KAMELETS_REF],
        injected: pinned,
        annotations: pins,
      }),
    ),
  };
}

describe('audit annotations', () => {
  it('parses pins in order, with or without container:, keyed like the request', () => {
    const pins = parsePins(`container:${DEPS_REF}@${HEX('1')}, acme/foo:2@${HEX('2')},,`);
    assert.deepEqual(pins, [
      { reference: DEPS_REF, digest: HEX('1') },
      { reference: 'acme/foo:2', digest: HEX('2') },
    ]);
    assert.equal(referenceKey('acme/foo:2'), referenceKey('container:docker.io/acme/foo:2'));
    // White space separates entries too, as the webhook reads them.
    assert.deepEqual(
      parsePins(`${DEPS_REF}@${HEX('1')}\n acme/foo:2@${HEX('2')}`).map((p) => p.digest),
      [HEX('1'), HEX('2')],
    );
    assert.equal(referenceKey('acme/foo'), 'docker.io/acme/foo:latest');
  });

  const badPins = [
    ['no digest', DEPS_REF],
    ['short digest', `${DEPS_REF}@sha256:abc`],
    ['uppercase hex', `${DEPS_REF}@sha256:${'A'.repeat(64)}`],
    ['digest only', `@${HEX('1')}`],
    ['too long', `${DEPS_REF}@${HEX('1')},`.repeat(2000)],
    ['too many', Array.from({ length: 33 }, (_, i) => `r/x${i}:1@${HEX('1')}`).join(',')],
  ] as const;
  for (const [name, value] of badPins) {
    it(`refuses pins: ${name}`, () => {
      assert.throws(
        () => parsePins(value),
        (err: unknown) => isCamelOciError(err, 'ANNOTATION_INVALID'),
      );
    });
  }

  it('reads back what the webhook writes, stale and index included', () => {
    const a = artifactFor(DEPS_REF, {
      stale: true,
      indexDigest: HEX('9'),
      platform: 'linux/amd64',
      ignored: [{ digest: HEX('8'), mediaType: 'text/plain', reason: 'not a layer for camel-oci' }],
    });
    const [r] = parseResolvedAnnotation(resolvedAnnotationValue([a, kamelets]));
    assert.equal(r!.ref, DEPS_REF);
    assert.equal(r!.pinned, `registry.acme.example/acme/deps@${a.digest}`);
    assert.equal(r!.stale, true);
    assert.equal(r!.index, HEX('9'));
    assert.deepEqual(
      r!.layers,
      a.layers.map((l) => l.digest),
    );
    // A field a newer webhook may add does not make the record unreadable.
    const newer = JSON.stringify([{ ...JSON.parse(resolvedAnnotationValue([deps]))[0], credentials: 'pod' }]);
    assert.equal(parseResolvedAnnotation(newer).length, 1);
  });

  const good = JSON.parse(resolvedAnnotationValue([deps]))[0] as Obj;
  const badResolved: Array<[string, string]> = [
    ['not JSON', '{"ref":'],
    ['not an array', JSON.stringify(good)],
    ['too long', ' '.repeat(MAX_RESOLVED_CHARS + 1)],
    ['too many records', JSON.stringify(Array.from({ length: 33 }, () => good))],
    ['pinned without digest', JSON.stringify([{ ...good, pinned: 'registry.acme.example/acme/deps:1.0' }])],
    ['bad layer digest', JSON.stringify([{ ...good, layers: ['sha256:zz'] }])],
    ['missing ref', JSON.stringify([{ ...good, ref: undefined }])],
    ['stale not true', JSON.stringify([{ ...good, stale: 'yes' }])],
    ['bad index', JSON.stringify([{ ...good, index: 'sha256:1' }])],
    ['record not object', JSON.stringify([1])],
    ['unknown mode', JSON.stringify([{ ...good, mode: 'mounted' }])],
    ['fallback without mode fetch', JSON.stringify([{ ...good, mode: 'image-volume', fallback: 'x' }])],
    ['fallback not a string', JSON.stringify([{ ...good, mode: 'fetch', fallback: 1 }])],
  ];
  for (const [name, value] of badResolved) {
    it(`refuses a resolved annotation: ${name}`, () => {
      assert.throws(
        () => parseResolvedAnnotation(value),
        (err: unknown) => isCamelOciError(err, 'ANNOTATION_INVALID'),
      );
    });
  }
});

describe('audit report', () => {
  it('a pinned integration whose replicas run the pins is clean, grouped with what was asked, pinned and run', () => {
    const r = report(healthy());
    assert.deepEqual(r.findings, []);
    assert.equal(exitCode(r), 0);
    assert.equal(r.integrations.length, 1);
    const e = r.integrations[0]!;
    assert.equal(e.object, 'Integration');
    assert.deepEqual(e.requested, [DEPS_REF, KAMELETS_REF]);
    assert.deepEqual(
      e.pins.map((p) => p.digest),
      [deps.digest, kamelets.digest],
    );
    assert.deepEqual(
      e.pods.map((p) => [p.name, p.since, p.injected]),
      [
        ['hello-6f9c7d8b5d-abcde', '2026-12-02T10:00:00Z', true],
        ['hello-6f9c7d8b5d-fghij', '2026-12-02T10:01:00Z', true],
      ],
    );
    assert.deepEqual(
      e.pods[0]!.runs.map((x) => [x.reference, x.digest]),
      [
        [DEPS_REF, deps.digest],
        [KAMELETS_REF, kamelets.digest],
      ],
    );
  });

  it('leaves out integrations that ask for nothing, and groups pods by namespace and label', () => {
    const other = healthy('hello', 'prod');
    const plain = integration('plain');
    const plainPod = integrationPod('plain', { suffix: 'zzzzz', created: '2026-12-02T10:00:00Z' });
    const r = report({
      integrations: [...healthy().integrations, ...other.integrations, plain],
      pods: [...healthy().pods, ...other.pods, plainPod],
    });
    assert.deepEqual(
      r.integrations.map((e) => `${e.namespace}/${e.name}:${e.pods.length}`),
      ['demo/hello:2', 'prod/hello:2'],
    );
  });

  it('NOT_INJECTED: asked but no init container, with the likely reason', () => {
    const h = healthy();
    const down = integrationPod('hello', { suffix: 'down1', created: '2026-12-02T11:00:00Z', request: [DEPS_REF] });
    const optedOut = integrationPod('hello', {
      suffix: 'opted',
      created: '2026-12-02T11:01:00Z',
      request: [DEPS_REF],
      annotations: { 'camel.apache.org/oci-injection': 'disabled' },
    });
    // The Integration's resolved annotation copied onto a pod the webhook never saw.
    const forged = integrationPod('hello', {
      suffix: 'forge',
      created: '2026-12-02T11:02:00Z',
      request: [DEPS_REF],
      annotations: { 'camel.apache.org/container-dependencies.resolved': resolvedAnnotationValue([deps]) },
    });
    const r = report({ integrations: h.integrations, pods: [...h.pods, down, optedOut, forged] });
    const found = r.findings.filter((f) => f.code === 'NOT_INJECTED');
    assert.deepEqual(
      found.map((f) => f.pod),
      ['hello-6f9c7d8b5d-down1', 'hello-6f9c7d8b5d-forge', 'hello-6f9c7d8b5d-opted'],
    );
    assert.match(found[0]!.message, /no camel-oci-fetch init container.*--on-error allow/);
    assert.match(found[1]!.message, /not trusted/);
    assert.match(found[2]!.message, /opted out/);
    assert.deepEqual(r.integrations[0]!.pods.find((p) => p.name.endsWith('forge'))!.runs, [], 'a forged record is not shown as what runs');
    assert.equal(exitCode(r), 3);
  });

  it('NOT_INJECTED: init container present but no resolved annotation; RESOLVED_INVALID: one that does not parse', () => {
    const [a, b] = healthy().pods as [Obj, Obj];
    delete a.metadata.annotations['camel.apache.org/container-dependencies.resolved'];
    b.metadata.annotations['camel.apache.org/container-dependencies.resolved'] = '[{"ref":"x"}]';
    const r = report({ integrations: healthy().integrations, pods: [a, b] });
    assert.deepEqual(codes(r), ['NOT_INJECTED', 'RESOLVED_INVALID']);
    assert.match(only(r, 'NOT_INJECTED').message, /no camel\.apache\.org\/container-dependencies\.resolved/);
    assert.match(only(r, 'RESOLVED_INVALID').message, /record 0/);
  });

  it('DIGEST_SKEW: replicas of one integration on different digests (annotation path, no pins)', () => {
    const pods = [
      integrationPod('skew', { suffix: 'old01', created: '2026-12-02T09:00:00Z', request: [DEPS_REF], injected: [deps] }),
      integrationPod('skew', { suffix: 'new01', created: '2026-12-02T10:00:00Z', request: [DEPS_REF], injected: [depsMoved] }),
      integrationPod('skew', { suffix: 'new02', created: '2026-12-02T10:00:01Z', request: [DEPS_REF], injected: [depsMoved] }),
    ];
    const r = report({ pods, camelApi: false });
    const f = only(r, 'DIGEST_SKEW');
    assert.equal(f.reference, DEPS_REF);
    assert.deepEqual([...f.digests!].sort(), [deps.digest, depsMoved.digest].sort());
    assert.match(f.message, new RegExp(`${deps.digest.slice(7, 19)} \\(1 pod\\), ${'a'.repeat(12)} \\(2 pods\\)`));
    assert.equal(r.integrations[0]!.object, 'none');
    assert.deepEqual(codes(r), ['DIGEST_SKEW'], 'without the Camel K API there is no UNPINNED');
  });

  it('STALE_RESOLUTION: a pod admitted from a stale resolution', () => {
    const pods = [
      integrationPod('hello', {
        suffix: 'stale',
        created: '2026-12-02T10:00:00Z',
        request: [DEPS_REF],
        injected: [{ ...deps, stale: true }],
      }),
    ];
    const r = report({ pods, camelApi: false });
    const f = only(r, 'STALE_RESOLUTION');
    assert.equal(f.pod, 'hello-6f9c7d8b5d-stale');
    assert.deepEqual(f.digests, [deps.digest]);
    assert.equal(r.integrations[0]!.pods[0]!.runs[0]!.stale, true);
  });

  it('UNPINNED: an Integration asking without pins, one missing a pin, unreadable pins, a container: dependency never moved', () => {
    const badRequest = integration('badreq');
    badRequest.metadata.annotations['camel.apache.org/container-dependencies'] = 'container: acme/deps:1.0';
    const r = report({
      integrations: [
        badRequest,
        integration('nopins', { request: [DEPS_REF] }),
        integration('partial', { request: [DEPS_REF, KAMELETS_REF], pinned: [deps] }),
        integration('garbled', { request: [DEPS_REF], pinsText: 'nonsense' }),
        integration('unmoved', { dependencies: [`container:${DEPS_REF}`] }),
      ],
    });
    assert.deepEqual(
      r.findings.map((f) => [f.integration, f.code]),
      [
        ['badreq', 'UNPINNED'],
        ['garbled', 'UNPINNED'],
        ['nopins', 'UNPINNED'],
        ['partial', 'UNPINNED'],
        ['unmoved', 'UNPINNED'],
      ],
    );
    const byName = new Map(r.findings.map((f) => [f.integration, f]));
    assert.match(byName.get('partial')!.message, new RegExp(`no pin for ${KAMELETS_REF}`));
    assert.match(byName.get('garbled')!.message, /unreadable/);
    assert.match(byName.get('badreq')!.message, /annotation is invalid, so nothing could be pinned/);
    assert.deepEqual(r.integrations.find((e) => e.name === 'unmoved')!.requested, [DEPS_REF]);
  });

  it('a Pipe is the object of its integration: pins read from it, its owned Integration and pods grouped with it', () => {
    const pinned = [deps];
    const p = pipe('bound', { request: [DEPS_REF], pinned });
    const it2 = pipeIntegration(p);
    const pod = integrationPod('bound', {
      suffix: 'p0001',
      created: '2026-12-02T10:00:00Z',
      request: [DEPS_REF],
      injected: pinned,
      annotations: { [ANNOTATION_PINNED]: pinsValue(pinned) },
    });
    const r = report({ pipes: [p], integrations: [it2], pods: [pod] });
    assert.deepEqual(r.findings, []);
    assert.equal(r.integrations.length, 1);
    assert.equal(r.integrations[0]!.object, 'Pipe');
    const unpinned = report({ pipes: [pipe('bound', { request: [DEPS_REF] })] });
    assert.match(only(unpinned, 'UNPINNED').message, /^the Pipe asks/);
  });

  it('PIN_MISMATCH: a pod running another digest than the pins (an index pin matches its child manifest)', () => {
    const h = healthy();
    const stray = integrationPod('hello', {
      suffix: 'stray',
      created: '2026-12-02T12:00:00Z',
      request: [DEPS_REF, KAMELETS_REF],
      injected: [depsMoved, kamelets],
    });
    const r = report({ integrations: h.integrations, pods: [...h.pods, stray] });
    const f = only(r, 'PIN_MISMATCH');
    assert.equal(f.pod, 'hello-6f9c7d8b5d-stray');
    assert.deepEqual(f.digests, [deps.digest, depsMoved.digest]);
    assert.ok(codes(r).includes('DIGEST_SKEW'));

    const fromIndex = { ...deps, indexDigest: HEX('7') };
    const idx = report({
      integrations: [integration('multi', { request: [DEPS_REF], pinned: [fromIndex] })],
      pods: [integrationPod('multi', { suffix: 'm0001', created: '2026-12-02T10:00:00Z', request: [DEPS_REF], injected: [fromIndex] })],
    });
    assert.deepEqual(idx.findings, []);
  });

  it('TAG_MOVED and TAG_CHECK_FAILED from tag checks, against pins or, without pins, what pods run', () => {
    const h = healthy();
    const loose = integrationPod('loose', { suffix: 'l0001', created: '2026-12-02T10:00:00Z', request: [DEPS_REF], injected: [deps] });
    const base = report({ integrations: h.integrations, pods: [...h.pods, loose] });
    assert.deepEqual(tagsToCheck(base), [DEPS_REF, KAMELETS_REF], 'one check per distinct tag');
    const digestOnly = report({ integrations: [integration('d', { request: [`registry.acme.example/acme/deps@${deps.digest}`] })] });
    assert.deepEqual(tagsToCheck(digestOnly), [], 'a digest reference cannot move');

    const checked = withTagChecks(base, [
      { reference: DEPS_REF, digest: depsMoved.digest },
      { reference: KAMELETS_REF, error: { code: 'UNAVAILABLE', message: 'registry down' } },
    ]);
    const moved = checked.findings.filter((f) => f.code === 'TAG_MOVED');
    assert.deepEqual(
      moved.map((f) => [f.integration, f.digests]),
      [
        ['hello', [deps.digest, depsMoved.digest]],
        ['loose', [deps.digest, depsMoved.digest]],
      ],
    );
    assert.match(moved[0]!.message, /pinned/);
    assert.match(moved[1]!.message, /1 pod runs .*loose-6f9c7d8b5d-l0001/);
    assert.equal(only(checked, 'TAG_CHECK_FAILED').reference, KAMELETS_REF);
    assert.equal(exitCode(checked), 1, 'an incomplete audit is an error');
    assert.equal(checked.tags.length, 2);

    const unmoved = withTagChecks(base, [
      { reference: DEPS_REF, digest: deps.digest },
      { reference: KAMELETS_REF, digest: HEX('5'), index: kamelets.digest },
    ]);
    assert.deepEqual(unmoved.findings, [], 'a tag naming the pinned digest (or the index it came from) has not moved');
  });

  it('every finding code is produced by some test above', () => {
    assert.deepEqual([...FINDING_CODES].sort(), [
      'DIGEST_SKEW',
      'NOT_INJECTED',
      'PIN_MISMATCH',
      'RESOLVED_INVALID',
      'STALE_RESOLUTION',
      'TAG_CHECK_FAILED',
      'TAG_MOVED',
      'UNPINNED',
    ]);
  });
});

describe('audit of image-volume pods', () => {
  const pushedRef = 'registry.acme.example/acme/pushed:1.0';
  const pushed = artifactFor(pushedRef, {
    artifactType: CAMEL_OCI_ARTIFACT_TYPE,
    configMediaType: OCI_IMAGE_CONFIG,
    layers: [{ ...deps.layers[0]!, name: 'libs', title: 'dependencies-libs.tar.gz' }],
  });
  const imagePod = (suffix: string): Obj =>
    integrationPod('hello', {
      suffix,
      created: '2026-12-02T10:00:00Z',
      request: [pushedRef, DEPS_REF],
      injected: [pushed, deps],
      imageVolumes: true,
    });

  it('a pod admitted with only image volumes (no init container) is injected, and runs what its record says, mode included', () => {
    const pod = integrationPod('hello', {
      suffix: 'image',
      created: '2026-12-02T10:00:00Z',
      request: [pushedRef],
      injected: [pushed],
      imageVolumes: true,
    });
    assert.equal(pod.spec.initContainers, undefined, 'no init container');
    const r = report({ pods: [pod], camelApi: false });
    assert.deepEqual(codes(r), []);
    const entry = r.integrations[0]!.pods[0]!;
    assert.equal(entry.injected, true);
    assert.deepEqual(
      entry.runs.map((x) => [x.reference, x.digest, x.mode]),
      [[pushedRef, pushed.digest, 'image-volume']],
    );
    assert.match(formatTable(r), /\(image volume\)/);
    assert.equal(JSON.parse(formatJson(r)).integrations[0].pods[0].runs[0].mode, 'image-volume');
  });

  it('a mixed pod records both modes and the fallback reason', () => {
    const r = report({ pods: [imagePod('mixed')], camelApi: false });
    assert.deepEqual(codes(r), []);
    assert.deepEqual(
      r.integrations[0]!.pods[0]!.runs.map((x) => [x.mode, x.fallback]),
      [
        ['image-volume', undefined],
        ['fetch', 'the manifest has no artifactType (not made by camel-oci push)'],
      ],
    );
  });

  it('RESOLVED_INVALID: a record that says image volume on a pod without that volume', () => {
    const pod = imagePod('gone1');
    pod.spec.volumes = pod.spec.volumes.filter((v: Obj) => !String(v.name).startsWith('camel-oci-image-'));
    const swapped = imagePod('swap1');
    const volume = swapped.spec.volumes.find((v: Obj) => String(v.name).startsWith('camel-oci-image-'));
    volume.image.reference = `registry.acme.example/acme/other@${HEX('7')}`;
    const r = report({ pods: [pod, swapped], camelApi: false });
    assert.deepEqual(codes(r), ['RESOLVED_INVALID', 'RESOLVED_INVALID']);
    for (const f of r.findings) assert.match(f.message, /says registry\.acme\.example\/acme\/pushed:1\.0 is an image volume/);
  });

  it('NOT_INJECTED still: a pod that asked and has neither the init container nor an image volume', () => {
    const pod = integrationPod('hello', { suffix: 'plain', created: '2026-12-02T10:00:00Z', request: [pushedRef] });
    const r = report({ pods: [pod], camelApi: false });
    assert.deepEqual(codes(r), ['NOT_INJECTED']);
    assert.match(only(r, 'NOT_INJECTED').message, /no camel-oci-fetch init container or camel-oci image volume/);
  });
});

describe('audit output', () => {
  function busy(): AuditReport {
    const h = healthy('an-integration-with-a-rather-long-name-as-people-write-them');
    const long = 'registry.a-very-long-registry-host-name.example.com:5443/team/sub-team/project/dependencies-bundle:2026.12.02-build.4711';
    const longArtifact = artifactFor(long);
    const pods = [
      ...h.pods,
      integrationPod('an-integration-with-a-rather-long-name-as-people-write-them', {
        suffix: 'xxxxx',
        created: '2026-12-02T12:00:00Z',
        request: [long],
        injected: [longArtifact],
      }),
      integrationPod('skew', { suffix: 'down1', created: '2026-12-02T12:00:00Z', request: [long] }),
      integrationPod('skew', {
        suffix: 'stal1',
        created: '2026-12-02T12:00:00Z',
        request: [long],
        injected: [{ ...longArtifact, stale: true }],
      }),
    ];
    return withTagChecks(buildReport(objects({ integrations: h.integrations, pods }), { namespace: null, allNamespaces: true }), [
      { reference: long, digest: HEX('c') },
    ]);
  }

  it('the table fits the width: digests cut to 12 hex, long names cut, messages wrapped', () => {
    const r = busy();
    assert.deepEqual(new Set(r.findings.map((f) => f.code)), new Set(['TAG_MOVED', 'NOT_INJECTED', 'STALE_RESOLUTION']));
    for (const width of [DEFAULT_TABLE_WIDTH, 80]) {
      const table = formatTable(r, width);
      const lines = table.split('\n');
      for (const line of lines) assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
      assert.ok(!table.includes(deps.digest), 'no full digest in the table');
      assert.ok(table.includes(`@${deps.digest.slice(7, 19)}`));
      for (const f of r.findings) assert.ok(table.includes(f.code));
      assert.match(table, new RegExp(`FINDINGS \\(${r.findings.length}\\)`));
    }
    assert.match(formatTable(report(healthy())), /no findings \(namespace demo\)$/);
    assert.match(formatTable(report({ camelApi: false })), /pods only[\s\S]*no integration asks/);
  });

  it('does not let text from the cluster drive the terminal (escape sequences, bidi overrides)', () => {
    const evil = 'registry.acme.example/acme/deps:1.0\u001b]0;pwned\u0007\u202e';
    const pod = integrationPod('hello', { suffix: 'evil1', created: '2026-12-02T10:00:00Z', request: [DEPS_REF] });
    pod.metadata.annotations['camel.apache.org/container-dependencies'] = `container:${evil}`;
    pod.metadata.labels['camel.apache.org/integration'] = 'hello\u001b[2J';
    const r = report({ pods: [pod], camelApi: false });
    assert.equal(r.findings.length, 1);
    const table = formatTable(r);
    // eslint-disable-next-line no-control-regex -- the assertion is about control characters
    assert.doesNotMatch(table, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    assert.match(table, /hello\?\[2J/);
    assert.ok(JSON.parse(formatJson(r)).integrations[0].requested[0] === evil, 'JSON keeps the text exactly (escaped by JSON itself)');
  });

  it('JSON is the report: stable top-level shape, full digests, findings with codes', () => {
    const r = busy();
    const json = JSON.parse(formatJson(r)) as Obj;
    assert.deepEqual(Object.keys(json), ['apiVersion', 'namespace', 'allNamespaces', 'camelApi', 'integrations', 'tags', 'findings']);
    assert.equal(json.apiVersion, AUDIT_API_VERSION);
    assert.equal(json.namespace, null);
    assert.equal(json.allNamespaces, true);
    const e = json.integrations[0];
    assert.deepEqual(Object.keys(e), ['namespace', 'name', 'object', 'requested', 'pins', 'pods']);
    assert.deepEqual(Object.keys(e.pods[0]), ['name', 'since', 'phase', 'injected', 'requested', 'runs']);
    assert.deepEqual(Object.keys(e.pods[0].runs[0]), ['reference', 'pinned', 'digest', 'layers']);
    assert.equal(e.pods[0].runs[0].digest, deps.digest);
    for (const f of json.findings) {
      assert.ok(FINDING_CODES.includes(f.code));
      assert.deepEqual(Object.keys(f).slice(0, 3), ['code', 'namespace', 'integration']);
      assert.equal(Object.keys(f).at(-1), 'message');
      assert.equal(typeof f.message, 'string');
      for (const k of Object.keys(f))
        assert.ok(['code', 'namespace', 'integration', 'pod', 'reference', 'digests', 'message'].includes(k), k);
    }
  });
});
