import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decide,
  MAX_ANNOTATION_CHARS,
  MAX_REFERENCE_CHARS,
  MAX_REFERENCES,
  SKIP_REASONS,
  splitReferences,
} from '../../src/inject/decide.js';
import { ANNOTATION_DEPENDENCIES, ANNOTATION_OPT_OUT, ANNOTATION_RESOLVED, INIT_CONTAINER_NAME } from '../../src/inject/annotations.js';
import { isCamelOciError } from '../../src/base/errors.js';
import { helloPod, knativePod, type Obj } from './support.js';

function asking(value: unknown, extra: Record<string, unknown> = {}): Obj {
  const pod = helloPod();
  pod.metadata.annotations = { ...pod.metadata.annotations, [ANNOTATION_DEPENDENCIES]: value, ...extra };
  return pod;
}

const splittingCases: { name: string; value: string; references: string[] }[] = [
  { name: 'one prefixed reference', value: 'container:docker.io/acme/deps:1.0', references: ['docker.io/acme/deps:1.0'] },
  { name: 'bare reference', value: 'docker.io/acme/deps:1.0', references: ['docker.io/acme/deps:1.0'] },
  { name: 'commas', value: 'container:a/b:1,container:c/d:2', references: ['a/b:1', 'c/d:2'] },
  { name: 'white space and newlines (YAML block scalars)', value: '  container:a/b:1\n\tc/d:2 \n', references: ['a/b:1', 'c/d:2'] },
  { name: 'commas and spaces mixed, empty entries', value: ',a/b:1 , ,c/d:2,,', references: ['a/b:1', 'c/d:2'] },
  { name: 'duplicates dropped, first kept, order preserved', value: 'c/d:2 container:a/b:1 a/b:1 c/d:2', references: ['c/d:2', 'a/b:1'] },
  {
    name: 'digest references keep their colon',
    value: `container:a/b@sha256:${'0'.repeat(64)}`,
    references: [`a/b@sha256:${'0'.repeat(64)}`],
  },
  { name: 'grammar is not checked here', value: 'container:NOT A REF?', references: ['NOT', 'A', 'REF?'] },
  { name: 'only separators', value: ' , \n', references: [] },
];

for (const c of splittingCases) {
  test(`splitReferences: ${c.name}`, () => {
    assert.deepEqual(splitReferences(c.value), c.references);
  });
}

test('decide injects a Camel K pod that asks, with the references in order', () => {
  assert.deepEqual(decide(asking('container:docker.io/acme/deps:1.0, quay.io/acme/kamelets:2')), {
    action: 'inject',
    references: ['docker.io/acme/deps:1.0', 'quay.io/acme/kamelets:2'],
  });
});

const skipCases: { name: string; pod: () => unknown; reason: string }[] = [
  { name: 'the Camel K pod as created (asks nothing)', pod: helloPod, reason: SKIP_REASONS.notRequested },
  { name: 'the Knative pod as created', pod: knativePod, reason: SKIP_REASONS.notRequested },
  { name: 'no metadata at all', pod: () => ({ spec: { containers: [{ name: 'a' }] } }), reason: SKIP_REASONS.notRequested },
  { name: 'annotations null', pod: () => ({ metadata: { annotations: null } }), reason: SKIP_REASONS.notRequested },
  { name: 'empty annotation', pod: () => asking(''), reason: SKIP_REASONS.empty },
  { name: 'annotation of separators only', pod: () => asking(' ,, '), reason: SKIP_REASONS.empty },
  { name: 'opt-out', pod: () => asking('container:a/b:1', { [ANNOTATION_OPT_OUT]: 'disabled' }), reason: SKIP_REASONS.optedOut },
  {
    name: 'opt-out written loosely',
    pod: () => asking('container:a/b:1', { [ANNOTATION_OPT_OUT]: ' Disabled ' }),
    reason: SKIP_REASONS.optedOut,
  },
  {
    name: 'opt-out wins over an absurd annotation',
    pod: () => asking('x'.repeat(MAX_ANNOTATION_CHARS * 10), { [ANNOTATION_OPT_OUT]: 'disabled' }),
    reason: SKIP_REASONS.optedOut,
  },
  {
    name: 'reinvocation: init container present',
    pod: () => {
      const pod = asking('container:a/b:1');
      pod.spec.initContainers = [
        { name: 'agents-download', image: 'x' },
        { name: INIT_CONTAINER_NAME, image: 'y' },
      ];
      return pod;
    },
    reason: SKIP_REASONS.alreadyInjected,
  },
  {
    name: 'reinvocation: init container present, with the resolved annotation',
    pod: () => {
      const pod = asking('container:a/b:1', { [ANNOTATION_RESOLVED]: '[]' });
      pod.spec.initContainers = [{ name: INIT_CONTAINER_NAME, image: 'y' }];
      return pod;
    },
    reason: SKIP_REASONS.alreadyInjected,
  },
];

for (const c of skipCases) {
  test(`decide skips: ${c.name}`, () => {
    assert.deepEqual(decide(c.pod()), { action: 'skip', reason: c.reason });
  });
}

test('a copied or forged resolved annotation does not disable injection: only the init container marks a pod injected', () => {
  // Camel K copies Integration annotations to its pods, so the annotation alone proves nothing.
  const forged = `[{"ref":"docker.io/acme/deps:1.0","pinned":"docker.io/acme/deps@sha256:${'0'.repeat(64)}","layers":[]}]`;
  assert.deepEqual(decide(asking('container:docker.io/acme/deps:1.0', { [ANNOTATION_RESOLVED]: forged })), {
    action: 'inject',
    references: ['docker.io/acme/deps:1.0'],
  });
  assert.deepEqual(decide(asking('container:a/b:1', { [ANNOTATION_RESOLVED]: '' })).action, 'inject');
  // Another init container's name is no marker either.
  const other = asking('container:a/b:1');
  other.spec.initContainers = [{ name: `${INIT_CONTAINER_NAME}-2`, image: 'x' }];
  assert.equal(decide(other).action, 'inject');
  assert.ok(!Object.values(SKIP_REASONS).some((r) => r.includes(ANNOTATION_RESOLVED)), 'no skip reason cites the annotation');
});

test('decide does not treat another opt-out value as opting out', () => {
  assert.equal(decide(asking('a/b:1', { [ANNOTATION_OPT_OUT]: 'enabled' })).action, 'inject');
});

const invalidCases: { name: string; value: unknown; mentions: RegExp }[] = [
  { name: 'value longer than the bound', value: 'a/b:1,'.repeat(MAX_ANNOTATION_CHARS), mentions: /characters long, at most 8192/ },
  { name: 'a reference longer than the bound', value: `container:${'a'.repeat(MAX_REFERENCE_CHARS + 1)}`, mentions: /at most 1024/ },
  {
    name: 'too many references',
    value: Array.from({ length: MAX_REFERENCES + 1 }, (_, i) => `r/x${i}:1`).join(','),
    mentions: /more than 32 references/,
  },
  { name: 'container: followed by a space', value: 'container: docker.io/acme/deps:1.0', mentions: /no space may follow the colon/ },
  { name: 'not a string', value: 42, mentions: /must be a string/ },
  { name: 'container: written twice', value: 'container:container:docker.io/acme/deps:1.0', mentions: /writes "container:" twice/ },
];

for (const c of invalidCases) {
  test(`decide rejects with REFERENCE_INVALID and says how to fix it: ${c.name}`, () => {
    assert.throws(
      () => decide(asking(c.value)),
      (err: unknown) => {
        assert.ok(isCamelOciError(err, 'REFERENCE_INVALID'), String(err));
        assert.match(err.message, c.mentions);
        assert.match(err.message, /kamel run --annotation camel\.apache\.org\/container-dependencies=container:/);
        return true;
      },
    );
  });
}

test('decide accepts exactly the bounds', () => {
  const refs = Array.from({ length: MAX_REFERENCES }, (_, i) => `r/x${i}:1`);
  const decision = decide(asking(refs.join(',')));
  assert.deepEqual(decision, { action: 'inject', references: refs });
  const long = 'a'.repeat(MAX_REFERENCE_CHARS);
  assert.deepEqual(decide(asking(`container:${long}`)), { action: 'inject', references: [long] });
});

test('duplicates do not count towards the reference bound', () => {
  const value = Array.from({ length: MAX_REFERENCES * 3 }, (_, i) => `r/x${i % MAX_REFERENCES}:1`).join(' ');
  const decision = decide(asking(value));
  assert.equal(decision.action, 'inject');
  assert.equal(decision.action === 'inject' && decision.references.length, MAX_REFERENCES);
});

test('an absurd annotation value (megabytes) is refused fast, before splitting', () => {
  const started = process.hrtime.bigint();
  assert.throws(
    () => decide(asking(' '.repeat(8 * 1024 * 1024))),
    (err) => isCamelOciError(err, 'REFERENCE_INVALID'),
  );
  // Generous bound: splitting 8 MiB would also be fast; this only catches pathological work.
  assert.ok(process.hrtime.bigint() - started < 1_000_000_000n);
});

test('decide refuses what is not an object', () => {
  for (const bad of [null, 'pod', [], 7]) {
    assert.throws(
      () => decide(bad),
      (err) => isCamelOciError(err, 'UNSUPPORTED'),
    );
  }
});

test('decide refuses annotations that are not a map', () => {
  assert.throws(
    () => decide({ metadata: { annotations: ['x'] } }),
    (err) => isCamelOciError(err, 'UNSUPPORTED'),
  );
});
