import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { decide, REFERENCE_PREFIX } from '../../src/inject/decide.js';
import { ANNOTATION_DEPENDENCIES, ANNOTATION_OPT_OUT, ANNOTATION_PINNED, OPT_OUT_VALUE } from '../../src/inject/annotations.js';
import { decideIntegration, type CamelKind } from '../../src/inject/integration.js';
import { fixtureJson } from '../helpers/fixtures.js';
import { evaluate, matchConditionsOutcome, parseCel, tokenize } from './cel.js';
import { renderKustomization, type KubeObject } from './kustomize.js';
import { MANIFESTS_DIR, only } from './support.js';

const config = only(renderKustomization(path.join(MANIFESTS_DIR, 'base')), 'MutatingWebhookConfiguration', 'camel-oci');
const [podEntry, pinEntry] = config.webhooks as [KubeObject, KubeObject];
const conditions = (entry: KubeObject): Array<{ name: string; expression: string }> =>
  entry.matchConditions as Array<{ name: string; expression: string }>;

test('matchConditions: named uniquely with qualified names, at most 64, every expression parses in the modelled CEL subset', () => {
  for (const entry of [podEntry, pinEntry]) {
    const list = conditions(entry);
    assert.ok(list.length > 0 && list.length <= 64, entry.name as string);
    assert.equal(new Set(list.map((c) => c.name)).size, list.length, 'unique names');
    for (const c of list) {
      assert.match(c.name, /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'a qualified name, as the apiserver requires');
      assert.ok(c.name.length <= 63);
      assert.doesNotThrow(() => parseCel(c.expression), c.name);
      // Only the variables a webhook's matchConditions declare; `d` and `r` are comprehension variables.
      const tokens = tokenize(c.expression);
      const roots = tokens.filter((t, i) => /^[A-Za-z_]/.test(t) && (i === 0 || tokens[i - 1] !== '.'));
      for (const r of roots)
        assert.ok(
          ['object', 'oldObject', 'request', 'has', 'type', 'string', 'list', 'null', 'true', 'false', 'in', 'd', 'r'].includes(r),
          `${c.name}: ${r}`,
        );
    }
  }
});

test("matchConditions: the literals are the code's contract names", () => {
  const literals = (entry: KubeObject): Set<string> =>
    new Set(
      conditions(entry).flatMap((c) =>
        tokenize(c.expression)
          .filter((t) => t.startsWith("'"))
          .map((t) => t.slice(1, -1)),
      ),
    );
  assert.deepEqual([...literals(podEntry)].sort(), [ANNOTATION_DEPENDENCIES, ANNOTATION_OPT_OUT, '', OPT_OUT_VALUE].sort());
  assert.deepEqual(
    [...literals(pinEntry)].sort(),
    [
      ANNOTATION_DEPENDENCIES,
      ANNOTATION_PINNED,
      ANNOTATION_OPT_OUT,
      '',
      OPT_OUT_VALUE,
      REFERENCE_PREFIX,
      'Integration' satisfies CamelKind,
    ].sort(),
  );
});

test('the CEL model refuses what it does not model and reports errors for unguarded access (so its answers mean something)', () => {
  assert.throws(() => parseCel("object.metadata.annotations.exists_one(k, k == 'a')"), /exists_one|outside/);
  assert.throws(() => parseCel("object.metadata.name.matches('a')"), /outside/);
  assert.throws(() => parseCel('object.metadata.annotations["x"]'), /unexpected character/);
  assert.throws(() => parseCel('has(object.metadata) &&'), /unexpected end/);
  const pod = { metadata: { name: 'p' } };
  assert.equal(evaluate("object.metadata.annotations['a'] != ''", { object: pod }).ok, false, 'a missing map is an error');
  assert.deepEqual(evaluate("has(object.metadata.annotations) && object.metadata.annotations['a'] != ''", { object: pod }), {
    ok: true,
    value: false,
  });
  assert.deepEqual(
    evaluate("object.metadata.annotations['a'] != '' && has(object.metadata.annotations)", { object: pod }),
    { ok: true, value: false },
    '&& absorbs an error in either order',
  );
  assert.equal(evaluate("oldObject.metadata.name == 'x'", { oldObject: null }).ok, false, 'a field of null is an error');
  assert.equal(matchConditionsOutcome([{ expression: 'true' }, { expression: 'object.x' }], { object: {} }), 'error');
  assert.equal(
    matchConditionsOutcome([{ expression: 'false' }, { expression: 'object.x' }], { object: {} }),
    'skip',
    'any false skips, errors or not',
  );
});

const helloPod = fixtureJson<KubeObject>('camel-k-pods/camel-k-hello-pod.json');
const podWith = (annotations: Record<string, string> | undefined): KubeObject => {
  const pod = structuredClone(helloPod);
  if (annotations === undefined) delete pod.metadata.annotations;
  else pod.metadata.annotations = { ...pod.metadata.annotations, ...annotations };
  return pod;
};
const REF = 'container:docker.io/acme/deps:1.0';
const PIN = `docker.io/acme/deps:1.0@sha256:${'a'.repeat(64)}`;

/** Pods as the ReplicaSet controller creates them, and whether the apiserver calls /mutate. */
const POD_CASES: ReadonlyArray<{ name: string; pod: KubeObject; expected: 'call' | 'skip' }> = [
  { name: 'the Camel K pod asking nothing', pod: helloPod, expected: 'skip' },
  { name: 'a pod without annotations', pod: podWith(undefined), expected: 'skip' },
  { name: 'a pod without metadata', pod: { apiVersion: 'v1', kind: 'Pod', spec: helloPod.spec }, expected: 'skip' },
  { name: 'a pod with the annotation', pod: podWith({ [ANNOTATION_DEPENDENCIES]: REF }), expected: 'call' },
  { name: 'a pod with an empty annotation', pod: podWith({ [ANNOTATION_DEPENDENCIES]: '' }), expected: 'skip' },
  {
    name: 'a pod with the annotation, opted out',
    pod: podWith({ [ANNOTATION_DEPENDENCIES]: REF, [ANNOTATION_OPT_OUT]: OPT_OUT_VALUE }),
    expected: 'skip',
  },
  {
    name: 'a pod opted out with another spelling (the webhook skips it)',
    pod: podWith({ [ANNOTATION_DEPENDENCIES]: REF, [ANNOTATION_OPT_OUT]: ' Disabled' }),
    expected: 'call',
  },
  {
    name: 'a pod with the annotation and oci-injection enabled',
    pod: podWith({ [ANNOTATION_DEPENDENCIES]: REF, [ANNOTATION_OPT_OUT]: 'enabled' }),
    expected: 'call',
  },
  {
    name: 'a pod with pins copied from its Integration',
    pod: podWith({ [ANNOTATION_DEPENDENCIES]: REF, [ANNOTATION_PINNED]: PIN }),
    expected: 'call',
  },
];

const createVars = (object: unknown): Record<string, unknown> => ({ object, oldObject: null, request: { operation: 'CREATE' } });

for (const c of POD_CASES) {
  test(`pod matchConditions: ${c.name} -> ${c.expected}`, () => {
    assert.equal(matchConditionsOutcome(conditions(podEntry), createVars(c.pod)), c.expected);
    // Never filter out a pod the webhook would inject.
    if (c.expected === 'skip') assert.notEqual(decide(c.pod).action, 'inject');
  });
}

function integration(
  over: { annotations?: Record<string, string>; dependencies?: unknown[]; owner?: KubeObject; spec?: KubeObject | null } = {},
): KubeObject {
  const o: KubeObject = {
    apiVersion: 'camel.apache.org/v1',
    kind: 'Integration',
    metadata: {
      name: 'hello',
      namespace: 'demo',
      ...(over.annotations ? { annotations: over.annotations } : {}),
      ...(over.owner ? { ownerReferences: [over.owner] } : {}),
    },
    spec: {
      sources: [{ name: 'hello.yaml', content: '- from: {uri: timer:tick}' }],
      ...(over.dependencies ? { dependencies: over.dependencies } : {}),
      traits: { environment: { vars: ['A=1'] } },
    },
  };
  if (over.spec === null) delete o.spec;
  return o;
}
function pipe(
  over: { annotations?: Record<string, string>; dependencies?: unknown[]; integrationDependencies?: unknown[] } = {},
): KubeObject {
  return {
    apiVersion: 'camel.apache.org/v1',
    kind: 'Pipe',
    metadata: { name: 'p', namespace: 'demo', ...(over.annotations ? { annotations: over.annotations } : {}) },
    spec: {
      source: { ref: { kind: 'Kamelet', apiVersion: 'camel.apache.org/v1', name: 'timer-source' } },
      sink: { uri: 'log:x' },
      ...(over.dependencies ? { dependencies: over.dependencies } : {}),
      ...(over.integrationDependencies ? { integration: { dependencies: over.integrationDependencies } } : {}),
    },
  };
}
const pinned = { [ANNOTATION_DEPENDENCIES]: REF, [ANNOTATION_PINNED]: PIN };
const pipeOwner = { apiVersion: 'camel.apache.org/v1', kind: 'Pipe', name: 'p', uid: 'u', controller: true, blockOwnerDeletion: true };

/** Integration and Pipe writes, and whether the apiserver calls /mutate-integrations. */
const PIN_CASES: ReadonlyArray<{ name: string; object: KubeObject; old?: KubeObject; expected: 'call' | 'skip' }> = [
  {
    name: 'kamel run with camel: and mvn: dependencies only',
    object: integration({ dependencies: ['camel:jackson', 'mvn:org.acme:a:1.0'] }),
    expected: 'skip',
  },
  { name: 'kamel run -d container:', object: integration({ dependencies: ['camel:jackson', REF] }), expected: 'call' },
  { name: 'a container: entry written with a leading space', object: integration({ dependencies: [` ${REF}`] }), expected: 'call' },
  { name: 'a non-string entry beside a container: one', object: integration({ dependencies: [42, REF] }), expected: 'call' },
  { name: 'only non-string entries', object: integration({ dependencies: [42, { a: 1 }] }), expected: 'skip' },
  { name: 'the request annotation only', object: integration({ annotations: { [ANNOTATION_DEPENDENCIES]: REF } }), expected: 'call' },
  { name: 'an empty request annotation', object: integration({ annotations: { [ANNOTATION_DEPENDENCIES]: '' } }), expected: 'skip' },
  { name: 'an Integration without spec', object: integration({ spec: null }), expected: 'skip' },
  { name: 'an Integration without metadata annotations and no dependencies', object: integration(), expected: 'skip' },
  {
    name: 'opted out, with a container: entry',
    object: integration({ dependencies: [REF], annotations: { [ANNOTATION_OPT_OUT]: OPT_OUT_VALUE } }),
    expected: 'skip',
  },
  {
    name: "an Integration its Pipe controls, with the Pipe's annotations",
    object: integration({ annotations: pinned, owner: pipeOwner }),
    expected: 'skip',
  },
  {
    name: 'an Integration a KameletBinding controls',
    object: integration({ annotations: pinned, owner: { ...pipeOwner, kind: 'KameletBinding' } }),
    expected: 'skip',
  },
  {
    name: 'an Integration owned but not controlled by a Pipe',
    object: integration({ annotations: pinned, owner: { ...pipeOwner, controller: false } }),
    expected: 'call',
  },
  {
    name: 'an Integration another controller derived',
    object: integration({
      dependencies: [REF],
      owner: { apiVersion: 'example.com/v1', kind: 'IntegrationSet', name: 's', uid: 'u', controller: true },
    }),
    expected: 'skip',
  },
  {
    name: 'a Pipe with a controller owner (only Integrations are derived)',
    object: { ...pipe({ dependencies: [REF] }), metadata: { name: 'p', namespace: 'demo', ownerReferences: [pipeOwner] } },
    expected: 'call',
  },
  { name: 'a Pipe with spec.dependencies container:', object: pipe({ dependencies: [REF] }), expected: 'call' },
  {
    name: 'a Pipe with spec.integration.dependencies container:',
    object: pipe({ integrationDependencies: ['camel:a', REF] }),
    expected: 'call',
  },
  { name: 'a Pipe asking nothing', object: pipe({ integrationDependencies: ['camel:a'] }), expected: 'skip' },
  {
    name: 'UPDATE keeping the request (sticky pins)',
    object: integration({ annotations: pinned }),
    old: integration({ annotations: pinned }),
    expected: 'call',
  },
  {
    name: 'UPDATE dropping request and pins of a pinned Integration',
    object: integration(),
    old: integration({ annotations: pinned }),
    expected: 'call',
  },
  {
    name: 'UPDATE of an Integration pinned unpinned (on-error allow), dropping the request',
    object: integration(),
    old: integration({ annotations: { [ANNOTATION_DEPENDENCIES]: REF } }),
    expected: 'call',
  },
  {
    name: 'UPDATE of an Integration that never asked',
    object: integration({ dependencies: ['camel:a'] }),
    old: integration(),
    expected: 'skip',
  },
  {
    name: 'UPDATE opting a pinned Integration out',
    object: integration({ annotations: { ...pinned, [ANNOTATION_OPT_OUT]: OPT_OUT_VALUE } }),
    old: integration({ annotations: pinned }),
    expected: 'skip',
  },
  {
    name: 'UPDATE of a Pipe re-adding container: entries (kubectl apply)',
    object: pipe({ annotations: pinned, integrationDependencies: [REF] }),
    old: pipe({ annotations: pinned }),
    expected: 'call',
  },
];

for (const c of PIN_CASES) {
  test(`Integration matchConditions: ${c.name} -> ${c.expected}`, () => {
    const vars = { object: c.object, oldObject: c.old ?? null, request: { operation: c.old === undefined ? 'CREATE' : 'UPDATE' } };
    assert.equal(matchConditionsOutcome(conditions(pinEntry), vars), c.expected);
    // Never filter out a write the webhook would pin (or deny).
    if (c.expected === 'skip') {
      let action: string;
      try {
        action = decideIntegration(c.object, c.old).action;
      } catch {
        action = 'deny';
      }
      assert.equal(action, 'skip', 'the webhook would have acted on it');
    }
  });
}

test('no request the rules select makes a condition fail to evaluate (which failurePolicy Fail would turn into a rejection)', () => {
  const shapes: unknown[] = [
    {},
    { metadata: {} },
    { metadata: { annotations: {} } },
    { metadata: { ownerReferences: [{ kind: 'Pipe' }] } },
    { spec: {} },
    { spec: { integration: {} } },
    { spec: { dependencies: 'container:x' } },
    { spec: { integration: { dependencies: {} } } },
    ...PIN_CASES.map((c) => c.object),
  ];
  for (const object of shapes) {
    for (const oldObject of [null, {}, { metadata: {} }, { metadata: { annotations: {} } }]) {
      const outcome = matchConditionsOutcome(conditions(pinEntry), {
        object,
        oldObject,
        request: { operation: oldObject === null ? 'CREATE' : 'UPDATE' },
      });
      assert.notEqual(outcome, 'error', JSON.stringify({ object, oldObject }));
    }
    assert.notEqual(matchConditionsOutcome(conditions(podEntry), createVars(object)), 'error', JSON.stringify(object));
  }
});
