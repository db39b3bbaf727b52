import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildIntegrationPatch,
  decideIntegration,
  dependenciesVar,
  INTEGRATION_SKIP_REASONS,
  mergeRequest,
  parsePins,
  pinDigest,
  pinName,
  pinOf,
  pinsFor,
  type IntegrationDecision,
} from '../../src/inject/integration.js';
import {
  ANNOTATION_DEPENDENCIES,
  ANNOTATION_OPT_OUT,
  ANNOTATION_PINNED,
  ANNOTATION_REFRESH,
  ENV_DEPENDENCIES,
} from '../../src/inject/annotations.js';
import { isCamelOciError } from '../../src/base/errors.js';
import { applyIndependently, digest } from './support.js';
import { crdErrors, derivePipeIntegration, kamelRerun, kamelRunIntegration, pipeOf, type Obj } from '../helpers/camel-k.js';

const A = 'container:docker.io/acme/deps:1.0';
const B = 'container:quay.io/acme/kamelets:2.1';
const pinA = `docker.io/acme/deps:1.0@${digest('a')}`;
const pinB = `quay.io/acme/kamelets:2.1@${digest('b')}`;

type Pin = Extract<IntegrationDecision, { action: 'pin' }>;

function pinDecision(object: unknown, old?: unknown): Pin {
  const d = decideIntegration(object, old);
  assert.equal(d.action, 'pin', JSON.stringify(d));
  return d as Pin;
}

/** Decides, pins with `pins`, applies the patch with an independent applier, and checks the CRD schema. */
function pinned(object: Obj, pins: readonly string[], old?: Obj): Obj {
  const d = pinDecision(object, old);
  const out = applyIndependently(object, buildIntegrationPatch(object, d, pins));
  assert.deepEqual(crdErrors(out), []);
  return out;
}

describe('pins: the name and tag as written, plus the resolved digest', () => {
  const cases: { name: string; reference: string; pin: string }[] = [
    { name: 'a tag as written, host kept', reference: 'docker.io/acme/deps:1.0', pin: `docker.io/acme/deps:1.0@${digest('a')}` },
    { name: 'a short Docker Hub name is not normalized', reference: 'acme/deps:1.0', pin: `acme/deps:1.0@${digest('a')}` },
    {
      name: 'the container: prefix is dropped',
      reference: 'container:127.0.0.1:5000/acme/deps:1.0',
      pin: `127.0.0.1:5000/acme/deps:1.0@${digest('a')}`,
    },
    { name: 'no tag written, none added', reference: 'quay.io/acme/deps', pin: `quay.io/acme/deps@${digest('a')}` },
    {
      name: 'a written digest is replaced by the resolved one',
      reference: `quay.io/acme/deps:1.0@${digest('0')}`,
      pin: `quay.io/acme/deps:1.0@${digest('a')}`,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(pinOf(c.reference, digest('a')), c.pin);
      assert.equal(pinName(c.pin), pinName(c.reference));
    });
  }

  test('parsePins refuses anything that is not name@sha256:<64 hex>', () => {
    assert.deepEqual(parsePins(`${pinA}, ${pinB}`), [pinA, pinB]);
    assert.equal(parsePins(`${pinA},docker.io/acme/deps:1.0`), undefined);
    assert.equal(parsePins(`docker.io/acme/deps:1.0@sha256:abc`), undefined);
    assert.equal(pinDigest(pinA), digest('a'));
    assert.equal(pinDigest('docker.io/acme/deps:1.0'), undefined);
  });

  test('pinsFor accepts pins only when they cover exactly the references, in order', () => {
    const refs = ['docker.io/acme/deps:1.0', 'quay.io/acme/kamelets:2.1'];
    assert.deepEqual(pinsFor(`${pinA},${pinB}`, refs), [pinA, pinB]);
    assert.equal(pinsFor(`${pinB},${pinA}`, refs), undefined, 'order matters');
    assert.equal(pinsFor(pinA, refs), undefined, 'one missing');
    assert.equal(pinsFor(`${pinA},${pinB}`, ['docker.io/acme/deps:1.1', 'quay.io/acme/kamelets:2.1']), undefined, 'another tag');
    assert.equal(pinsFor(undefined, refs), undefined);
  });
});

describe('the request: the annotation merged with the moved entries, as written, no duplicates', () => {
  const cases: { name: string; existing: string | undefined; moved: string[]; request: string }[] = [
    { name: 'no annotation: the moved entries, comma separated', existing: undefined, moved: [A, B], request: `${A},${B}` },
    { name: 'annotation kept first, new entries appended', existing: A, moved: [B], request: `${A},${B}` },
    {
      name: 'an entry the annotation already names (bare) is not repeated',
      existing: 'docker.io/acme/deps:1.0',
      moved: [A, B],
      request: `docker.io/acme/deps:1.0,${B}`,
    },
    { name: 'nothing new: the annotation is left as written', existing: ` ${A}\n${B} `, moved: [B, A], request: ` ${A}\n${B} ` },
    { name: 'trailing separators of the annotation do not double', existing: `${A}, `, moved: [B], request: `${A},${B}` },
    { name: 'the same entry twice in dependencies is one request', existing: undefined, moved: [A, A], request: A },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(mergeRequest(c.existing, c.moved), c.request));
  }
});

describe('Integrations as kamel run creates them', () => {
  test('container: entries move out beside camel:/mvn: ones, order kept; pins, env var and traits are created', () => {
    const it = kamelRunIntegration('hello', { dependencies: ['camel:http', A, 'mvn:com.acme:bar:1.0', B] });
    const d = pinDecision(it);
    assert.deepEqual(d.references, ['docker.io/acme/deps:1.0', 'quay.io/acme/kamelets:2.1']);
    assert.equal(d.refreshTags, false);
    assert.equal(d.reuse, undefined);
    const out = pinned(it, [pinA, pinB]);
    assert.deepEqual(out.spec.dependencies, ['camel:http', 'mvn:com.acme:bar:1.0']);
    assert.equal(out.metadata.annotations[ANNOTATION_DEPENDENCIES], `${A},${B}`);
    assert.equal(out.metadata.annotations[ANNOTATION_PINNED], `${pinA},${pinB}`);
    assert.equal(out.metadata.annotations['camel.apache.org/operator.id'], 'camel-k');
    assert.deepEqual(out.spec.traits, { environment: { vars: [`${ENV_DEPENDENCIES}=${pinA},${pinB}`] } });
    assert.deepEqual(out.spec.sources, it.spec.sources);
  });

  test('existing env vars stay, in order; the variable is appended', () => {
    const it = kamelRunIntegration('hello', { dependencies: [A], env: ['GREETING=hi', 'B=2'], traits: { jvm: { options: ['-Xmx256m'] } } });
    const out = pinned(it, [pinA]);
    assert.deepEqual(out.spec.traits.environment.vars, ['GREETING=hi', 'B=2', dependenciesVar([pinA])]);
    assert.deepEqual(out.spec.traits.jvm, { options: ['-Xmx256m'] });
  });

  test('traits without the environment trait get one', () => {
    const it = kamelRunIntegration('hello', { dependencies: [A], traits: { container: { imagePullPolicy: 'Always' } } });
    const ops = buildIntegrationPatch(it, pinDecision(it), [pinA]);
    assert.deepEqual(ops.at(-1), { op: 'add', path: '/spec/traits/environment', value: { vars: [dependenciesVar([pinA])] } });
    assert.deepEqual(crdErrors(applyIndependently(it, ops)), []);
  });

  test('an environment trait without vars gets the list', () => {
    const it = kamelRunIntegration('hello', { dependencies: [A], traits: { environment: { containerMeta: true } } });
    const out = pinned(it, [pinA]);
    assert.deepEqual(out.spec.traits.environment, { containerMeta: true, vars: [dependenciesVar([pinA])] });
  });

  test('an earlier CAMEL_OCI_DEPENDENCIES is replaced in place and later copies removed; other vars untouched', () => {
    const it = kamelRunIntegration('hello', {
      dependencies: [A],
      env: ['X=1', `${ENV_DEPENDENCIES}=old`, 'Y=2', `${ENV_DEPENDENCIES}=older`, 'Z=3'],
    });
    const out = pinned(it, [pinA]);
    assert.deepEqual(out.spec.traits.environment.vars, ['X=1', dependenciesVar([pinA]), 'Y=2', 'Z=3']);
  });

  test('when every dependency is container:, the list itself goes', () => {
    const it = kamelRunIntegration('hello', { dependencies: [A, B] });
    const ops = buildIntegrationPatch(it, pinDecision(it), [pinA, pinB]);
    assert.deepEqual(ops[0], { op: 'remove', path: '/spec/dependencies' });
    assert.equal(pinned(it, [pinA, pinB]).spec.dependencies, undefined);
  });

  test('the annotation flow alone: no entry moves, the request annotation is left as written', () => {
    const it = kamelRunIntegration('hello', { dependencies: ['camel:http'], annotations: { [ANNOTATION_DEPENDENCIES]: A } });
    const ops = buildIntegrationPatch(it, pinDecision(it), [pinA]);
    assert.ok(ops.every((op) => !op.path.startsWith('/spec/dependencies')));
    assert.ok(ops.every((op) => op.path !== '/metadata/annotations/camel.apache.org~1container-dependencies'));
    assert.deepEqual(pinned(it, [pinA]).spec.dependencies, ['camel:http']);
  });

  test('annotation keys are escaped as JSON Pointer tokens', () => {
    const it = kamelRunIntegration('hello', { dependencies: [A] });
    const paths = buildIntegrationPatch(it, pinDecision(it), [pinA]).map((op) => op.path);
    assert.ok(paths.includes('/metadata/annotations/camel.apache.org~1container-dependencies'), paths.join(' '));
    assert.ok(paths.includes('/metadata/annotations/camel.apache.org~1container-dependencies.pinned'), paths.join(' '));
  });

  test('metadata without annotations gets the map', () => {
    const it = kamelRunIntegration('hello', { dependencies: [A] });
    delete it.metadata.annotations;
    const ops = buildIntegrationPatch(it, pinDecision(it), [pinA]);
    assert.ok(ops.some((op) => op.op === 'add' && op.path === '/metadata/annotations'));
    assert.equal(pinned(it, [pinA]).metadata.annotations[ANNOTATION_PINNED], pinA);
  });

  test('an object already carrying its pins gets no operation (idempotent)', () => {
    const it = kamelRunIntegration('hello', { dependencies: ['camel:http', A], env: ['X=1'] });
    const out = pinned(it, [pinA]);
    assert.deepEqual(buildIntegrationPatch(out, pinDecision(out), [pinA]), []);
  });

  test('--on-error allow (no pins): entries move, request set, no pins annotation, no env var', () => {
    const it = kamelRunIntegration('hello', { dependencies: ['camel:http', A] });
    const out = applyIndependently(it, buildIntegrationPatch(it, pinDecision(it), undefined));
    assert.deepEqual(out.spec.dependencies, ['camel:http']);
    assert.equal(out.metadata.annotations[ANNOTATION_DEPENDENCIES], A);
    assert.equal(out.metadata.annotations[ANNOTATION_PINNED], undefined);
    assert.equal(out.spec.traits, undefined);
    assert.deepEqual(crdErrors(out), []);
  });
});

describe('Pipes', () => {
  test('entries move out of spec.dependencies and spec.integration.dependencies; env var goes in spec.traits', () => {
    const pipe = pipeOf('timer-to-log', { dependencies: [A, 'camel:jackson'], integrationDependencies: ['mvn:com.acme:x:1', B] });
    const d = pinDecision(pipe);
    assert.deepEqual(
      d.moved.map((m) => m.list),
      ['/spec/dependencies', '/spec/integration/dependencies'],
    );
    const out = pinned(pipe, [pinA, pinB]);
    assert.deepEqual(out.spec.dependencies, ['camel:jackson']);
    assert.deepEqual(out.spec.integration.dependencies, ['mvn:com.acme:x:1']);
    assert.equal(out.metadata.annotations[ANNOTATION_DEPENDENCIES], `${A},${B}`);
    assert.deepEqual(out.spec.traits.environment.vars, [dependenciesVar([pinA, pinB])]);
  });

  test('the Integration its controller derives is skipped, and carries the pins', () => {
    const out = pinned(pipeOf('timer-to-log', { dependencies: [A], traits: { environment: { vars: ['X=1'] } } }), [pinA]);
    const derived = derivePipeIntegration(out);
    assert.deepEqual(crdErrors(derived), []);
    assert.deepEqual(decideIntegration(derived), { action: 'skip', reason: INTEGRATION_SKIP_REASONS.derived });
    assert.equal(derived.metadata.annotations[ANNOTATION_PINNED], pinA);
    assert.deepEqual(derived.spec.traits.environment.vars, ['X=1', dependenciesVar([pinA])]);
    assert.equal(derived.metadata.annotations['camel.apache.org/kamelet.icon'], undefined);
  });
});

describe('skip rules', () => {
  const owned = (owner: Obj): Obj => {
    const it = kamelRunIntegration('p', { dependencies: [A] });
    it.metadata.ownerReferences = [owner];
    return it;
  };
  const cases: { name: string; object: () => Obj; reason: string }[] = [
    {
      name: 'an Integration controlled by a Pipe',
      object: () => owned({ apiVersion: 'camel.apache.org/v1', kind: 'Pipe', name: 'p', uid: 'u', controller: true }),
      reason: INTEGRATION_SKIP_REASONS.derived,
    },
    {
      name: "an Integration controlled by a KameletBinding (the Pipe's old name)",
      object: () => owned({ apiVersion: 'camel.apache.org/v1alpha1', kind: 'KameletBinding', name: 'p', uid: 'u', controller: true }),
      reason: INTEGRATION_SKIP_REASONS.derived,
    },
    {
      name: 'an Integration another controller derived (any owner with controller: true)',
      object: () => owned({ apiVersion: 'example.com/v1', kind: 'IntegrationSet', name: 's', uid: 'u', controller: true }),
      reason: INTEGRATION_SKIP_REASONS.derived,
    },
    {
      name: 'opted out',
      object: () => kamelRunIntegration('x', { dependencies: [A], annotations: { [ANNOTATION_OPT_OUT]: ' Disabled ' } }),
      reason: INTEGRATION_SKIP_REASONS.optedOut,
    },
    {
      name: 'nothing asked (camel:/mvn: only), no request annotation',
      object: () => kamelRunIntegration('x', { dependencies: ['camel:http', 'mvn:a:b:1'] }),
      reason: INTEGRATION_SKIP_REASONS.notRequested,
    },
    { name: 'no dependencies at all', object: () => kamelRunIntegration('x'), reason: INTEGRATION_SKIP_REASONS.notRequested },
    {
      name: 'an empty request annotation and nothing to move',
      object: () => kamelRunIntegration('x', { annotations: { [ANNOTATION_DEPENDENCIES]: ' , ' } }),
      reason: INTEGRATION_SKIP_REASONS.empty,
    },
    {
      name: 'a Pipe that asks nothing',
      object: () => pipeOf('x', { dependencies: ['camel:http'] }),
      reason: INTEGRATION_SKIP_REASONS.notRequested,
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(decideIntegration(c.object()), { action: 'skip', reason: c.reason }));
  }

  test('an owner reference to a Pipe that is not the controller does not skip', () => {
    assert.equal(decideIntegration(owned({ apiVersion: 'camel.apache.org/v1', kind: 'Pipe', name: 'p', uid: 'u' })).action, 'pin');
  });
});

describe('sticky pins', () => {
  const stored = (): Obj => pinned(kamelRunIntegration('hello', { dependencies: ['camel:http', A] }), [pinA]);

  test('kamel run again (same -d entries re-added): the old pins are reused, no resolution', () => {
    const old = stored();
    const d = pinDecision(kamelRerun(old, [A]), old);
    assert.deepEqual(d.reuse, { pins: [pinA], source: 'old object' });
    assert.equal(d.refreshTags, false);
    const out = pinned(kamelRerun(old, [A]), [pinA], old);
    assert.deepEqual(out, old, 'the re-applied object ends exactly as stored');
  });

  test('an UPDATE that does not touch dependencies (a label edit) keeps the pins', () => {
    const old = stored();
    const next = structuredClone(old);
    next.metadata.labels = { team: 'a' };
    assert.deepEqual(pinDecision(next, old).reuse, { pins: [pinA], source: 'old object' });
  });

  test('an UPDATE that rewrites the pins by hand gets the old pins back', () => {
    const old = stored();
    const next = structuredClone(old);
    next.metadata.annotations[ANNOTATION_PINNED] = `docker.io/acme/deps:1.0@${digest('9')}`;
    const d = pinDecision(next, old);
    assert.deepEqual(d.reuse?.pins, [pinA]);
    assert.equal(applyIndependently(next, buildIntegrationPatch(next, d, d.reuse!.pins)).metadata.annotations[ANNOTATION_PINNED], pinA);
  });

  test('a changed request resolves again', () => {
    const old = stored();
    const d = pinDecision(kamelRerun(old, [B]), old);
    assert.equal(d.reuse, undefined);
    assert.deepEqual(d.references, ['docker.io/acme/deps:1.0', 'quay.io/acme/kamelets:2.1']);
    assert.equal(d.refreshTags, false);
  });

  test('a new oci-refresh value resolves again and asks the registry for the tags', () => {
    const old = stored();
    const next = structuredClone(old);
    next.metadata.annotations[ANNOTATION_REFRESH] = '2026-12-02T17:00:00Z';
    const d = pinDecision(next, old);
    assert.equal(d.reuse, undefined);
    assert.equal(d.refreshTags, true);
    // The same refresh value again is sticky.
    const refreshed = applyIndependently(next, buildIntegrationPatch(next, d, [`docker.io/acme/deps:1.0@${digest('c')}`]));
    assert.deepEqual(pinDecision(structuredClone(refreshed), refreshed).reuse?.pins, [`docker.io/acme/deps:1.0@${digest('c')}`]);
  });

  test('taking the oci-refresh annotation away is no new value: the pins stay', () => {
    const old = stored();
    old.metadata.annotations[ANNOTATION_REFRESH] = '1';
    const next = structuredClone(old);
    delete next.metadata.annotations[ANNOTATION_REFRESH];
    const d = pinDecision(next, old);
    assert.equal(d.refreshTags, false);
    assert.deepEqual(d.reuse, { pins: [pinA], source: 'old object' });
    // With the request changed too, the references are resolved again, from the tag cache.
    const changed = pinDecision(kamelRerun(next, [B]), old);
    assert.equal(changed.reuse, undefined);
    assert.equal(changed.refreshTags, false);
  });

  test('an oci-refresh value on CREATE is new: the tags are asked of the registry; pins the object carries still win', () => {
    const fresh = kamelRunIntegration('hello', { dependencies: [A], annotations: { [ANNOTATION_REFRESH]: '2' } });
    const d = pinDecision(fresh);
    assert.equal(d.refreshTags, true);
    assert.equal(d.reuse, undefined);
    assert.equal(pinDecision(kamelRunIntegration('hello', { dependencies: [A] })).refreshTags, false, 'no value, no refresh');
    // A committed object (GitOps) carries its pins and the refresh value it was re-pinned with.
    const committed = structuredClone(fresh);
    committed.metadata.annotations[ANNOTATION_PINNED] = pinA;
    assert.deepEqual(pinDecision(committed).reuse?.pins, [pinA]);
  });

  test('old pins that do not cover the request are not reused', () => {
    const old = stored();
    old.metadata.annotations[ANNOTATION_PINNED] = 'garbage';
    assert.equal(pinDecision(structuredClone(old), old).reuse, undefined);
  });

  test('a CREATE already carrying pins for exactly its request (camel-oci inject output) keeps them', () => {
    const offline = stored();
    assert.deepEqual(pinDecision(offline).reuse, { pins: [pinA], source: 'object' });
    offline.metadata.annotations[ANNOTATION_DEPENDENCIES] = `${A},${B}`;
    assert.equal(pinDecision(offline).reuse, undefined, 'pins for another request are not trusted');
  });
});

describe('bad input', () => {
  const cases: { name: string; object: unknown; code: string; message: RegExp }[] = [
    {
      name: 'not an Integration or Pipe',
      object: { apiVersion: 'v1', kind: 'Pod' },
      code: 'UNSUPPORTED',
      message: /not a camel\.apache\.org\/v1 Integration or Pipe/,
    },
    {
      name: 'spec.dependencies not a list',
      object: { ...kamelRunIntegration('x'), spec: { dependencies: 'container:a/b:1' } },
      code: 'UNSUPPORTED',
      message: /spec\.dependencies is not a list/,
    },
    {
      name: 'a request annotation that is not a string',
      object: kamelRunIntegration('x', { annotations: { [ANNOTATION_DEPENDENCIES]: 7 as unknown as string } }),
      code: 'REFERENCE_INVALID',
      message: /must be a string/,
    },
    {
      name: 'a container: entry naming nothing',
      object: kamelRunIntegration('x', { dependencies: [A, 'container:'] }),
      code: 'REFERENCE_INVALID',
      message: /names no reference.*kamel run -d container:/,
    },
    {
      name: 'spec.traits.environment.vars not a list',
      object: kamelRunIntegration('x', { dependencies: [A], traits: { environment: { vars: 'X=1' } } }),
      code: 'UNSUPPORTED',
      message: /spec\.traits\.environment\.vars is not a list/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => {
          const d = decideIntegration(c.object);
          if (d.action === 'pin')
            buildIntegrationPatch(
              c.object,
              d,
              d.references.map((r) => pinOf(r, digest('a'))),
            );
        },
        (err: unknown) => isCamelOciError(err) && err.code === c.code && c.message.test(err.message),
      );
    });
  }
});

describe('the CRD check itself', () => {
  test('catches a field the apiserver would prune, a wrong type, and accepts free-form parts', () => {
    const it = kamelRunIntegration('x', { env: ['X=1'] });
    assert.deepEqual(crdErrors(it), []);
    const pruned = structuredClone(it);
    pruned.spec.traits.environment.variables = ['X=1'];
    assert.match(crdErrors(pruned).join('\n'), /environment must NOT have additional properties.*variables/);
    const wrong = structuredClone(it);
    wrong.spec.traits.environment.vars = [1];
    assert.match(crdErrors(wrong).join('\n'), /vars\/0 must be string/);
    const flows = structuredClone(it);
    flows.spec.flows = [{ route: { from: { uri: 'timer:x', steps: [{ to: 'log:x' }] } } }];
    assert.deepEqual(crdErrors(flows), []);
    const pipe = pipeOf('p');
    pipe.spec.replicas = '2';
    assert.match(crdErrors(pipe).join('\n'), /replicas must be integer/);
  });
});
