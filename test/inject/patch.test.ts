import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInjection, escapePointer, MAX_TOTAL_ANNOTATION_BYTES, type JsonPatchOp } from '../../src/inject/patch.js';
import { boundWarnings, MAX_WARNING_CHARS, MAX_WARNINGS } from '../../src/webhook/admission.js';
import { decide, SKIP_REASONS } from '../../src/inject/decide.js';
import { applyPatch } from '../../src/inject/apply.js';
import {
  ANNOTATION_DEPENDENCIES,
  ANNOTATION_RESOLVED,
  ENV_CLASSPATH,
  INIT_CONTAINER_NAME,
  PULL_SECRETS_VOLUME_NAME,
  VOLUME_NAME,
} from '../../src/inject/annotations.js';
import { FETCHER_IMAGE_UID } from '../../src/inject/fetcher.js';
import { ISTIO_EXCLUDE_OUTBOUND_PORTS, LINKERD_SKIP_OUTBOUND_PORTS } from '../../src/inject/mesh.js';
import { DEFAULT_FETCHER_RESOURCES, DEFAULT_VOLUME_SIZE_LIMIT } from '../../src/inject/options.js';
import { parsePlan, planClasspath, VOLUME_MOUNT_PATH } from '../../src/plan/plan.js';
import { isCamelOciError, type ErrorCode } from '../../src/base/errors.js';
import {
  applyAndValidate,
  artifact,
  digest,
  fetchContainer,
  helloPod,
  knativePod,
  layer,
  OPTIONS,
  restrictedViolations,
  twoArtifacts,
  type Obj,
} from './support.js';
import { ENV_FETCH_TIMEOUT, ENV_PLAN, PULL_SECRETS_MOUNT_PATH } from '../../src/plan/env.js';

const HELLO_CP =
  './resources:/etc/camel/application.properties:/etc/camel/resources:/etc/camel/resources.d/_configmaps:/etc/camel/resources.d/_secrets:/etc/camel/sources/routes.yaml:dependencies/*:dependencies/app/*:dependencies/lib/boot/*:dependencies/lib/main/*';
const DEP_ENTRY = '/camel-oci/dependencies/111111111111/*';
const KAMELET_ENTRY = '/camel-oci/kamelets/222222222222';
const RESOLVED_KEY_PATH = '/metadata/annotations/camel.apache.org~1container-dependencies.resolved';
/** The mesh exclusions every injected pod gets (inject/mesh.ts); the two test registries are both on 443. */
const MESH_ANNOTATIONS = { [ISTIO_EXCLUDE_OUTBOUND_PORTS]: '443', [LINKERD_SKIP_OUTBOUND_PORTS]: '443' } as const;
const MESH_KEY_PATHS = [ISTIO_EXCLUDE_OUTBOUND_PORTS, LINKERD_SKIP_OUTBOUND_PORTS].map((k) => `/metadata/annotations/${escapePointer(k)}`);

function minimalPod(container: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'x-' },
    spec: { containers: [{ name: 'app', image: 'acme/app:1', ...container }] },
  };
}

function rejects(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isCamelOciError(err, code), `expected ${code}, got ${String(err)}`);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

test('escapePointer escapes ~ before / (RFC 6901)', () => {
  assert.equal(escapePointer('camel.apache.org/container-dependencies.resolved'), 'camel.apache.org~1container-dependencies.resolved');
  assert.equal(escapePointer('a~b/c'), 'a~0b~1c');
  // Escaping "/" first would turn "~1" into "~01" wrongly decoded as "~1"; the literal "~1" must become "~01".
  assert.equal(escapePointer('~1'), '~01');
  assert.equal(escapePointer('plain'), 'plain');
});

test('Camel K pod: exact operations, a valid pod, and nothing else changed', () => {
  const pod = helloPod();
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.deepEqual(
    result.ops.map((o) => `${o.op} ${o.path}`),
    [
      'add /spec/volumes/-',
      'add /spec/initContainers',
      'add /spec/containers/0/volumeMounts/-',
      'replace /spec/containers/0/args/2',
      `add ${RESOLVED_KEY_PATH}`,
      ...MESH_KEY_PATHS.map((p) => `add ${p}`),
    ],
  );
  assert.deepEqual(pod, helloPod(), 'the input pod is not modified');
  const patched = applyAndValidate(pod, result.ops);

  assert.equal(result.container, 'integration');
  assert.deepEqual(result.classpath, [DEP_ENTRY, KAMELET_ENTRY]);
  assert.equal(patched.spec.containers[0].args[2], `${HELLO_CP}:${DEP_ENTRY}:${KAMELET_ENTRY}`);
  assert.deepEqual(patched.spec.containers[0].volumeMounts.at(-1), { name: VOLUME_NAME, mountPath: VOLUME_MOUNT_PATH, readOnly: true });
  assert.deepEqual(patched.spec.volumes.at(-1), { name: VOLUME_NAME, emptyDir: { sizeLimit: DEFAULT_VOLUME_SIZE_LIMIT } });

  const init = fetchContainer(patched);
  assert.equal(patched.spec.initContainers[0], init);
  assert.equal(init.image, OPTIONS.fetcherImage);
  assert.deepEqual(init.command, ['camel-oci', 'fetch', '--root', '/camel-oci']);
  assert.deepEqual(init.volumeMounts, [{ name: VOLUME_NAME, mountPath: '/camel-oci' }]);
  assert.deepEqual(init.resources, DEFAULT_FETCHER_RESOURCES);
  const planEnv = init.env.find((e: Obj) => e.name === ENV_PLAN);
  assert.deepEqual(parsePlan(planEnv.value), result.plan, 'the init container gets a plan its fetcher accepts');
  assert.ok(!planEnv.value.includes('\n') && !planEnv.value.includes(': '), 'the plan is compact JSON');
  assert.deepEqual(planClasspath(result.plan!), result.classpath);

  assert.equal(patched.metadata.annotations[ANNOTATION_RESOLVED], result.resolvedAnnotation);
  assert.deepEqual(JSON.parse(result.resolvedAnnotation), [
    {
      ref: 'docker.io/acme/deps:1.0',
      pinned: `docker.io/acme/deps@${digest('d')}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      layers: [digest('1')],
    },
    {
      ref: `quay.io/acme/kamelets@${digest('e')}`,
      pinned: `quay.io/acme/kamelets@${digest('e')}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      layers: [digest('2')],
    },
  ]);
  assert.deepEqual(result.warnings, []);

  // Undo exactly what injection documents; what remains must be the original pod.
  const undone = structuredClone(patched);
  undone.spec.volumes = undone.spec.volumes.filter((v: Obj) => v.name !== VOLUME_NAME);
  delete undone.spec.initContainers;
  undone.spec.containers[0].volumeMounts = undone.spec.containers[0].volumeMounts.filter((m: Obj) => m.name !== VOLUME_NAME);
  undone.spec.containers[0].args[2] = HELLO_CP;
  delete undone.metadata.annotations[ANNOTATION_RESOLVED];
  for (const k of Object.keys(MESH_ANNOTATIONS)) delete undone.metadata.annotations[k];
  assert.deepEqual(undone, helloPod());
});

test('Knative pod: queue-proxy is left exactly as it was', () => {
  const pod = knativePod();
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(result.container, 'integration');
  assert.deepEqual(patched.spec.containers[1], knativePod().spec.containers[1]);
  assert.ok(result.ops.every((o) => !o.path.startsWith('/spec/containers/1')));
  assert.equal(patched.spec.containers[0].args[2], `${HELLO_CP}:${DEP_ENTRY}:${KAMELET_ENTRY}`);
});

test('Knative pod with queue-proxy first and no hints: the fallback still skips queue-proxy', () => {
  const pod = knativePod();
  delete pod.metadata.annotations['kubectl.kubernetes.io/default-container'];
  const [integration, queue] = pod.spec.containers;
  integration.env = integration.env.filter((e: Obj) => e.name !== 'CAMEL_K_INTEGRATION');
  delete integration.args;
  pod.spec.containers = [queue, integration];
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(result.container, 'integration');
  assert.deepEqual(patched.spec.containers[0], queue);
  assert.ok(result.ops.every((o) => !o.path.startsWith('/spec/containers/0')));
});

test('a pod with no volumes, initContainers, annotations, env or volumeMounts gets whole lists and maps', () => {
  const pod = minimalPod();
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.deepEqual(
    result.ops.map((o) => `${o.op} ${o.path}`),
    [
      'add /spec/volumes',
      'add /spec/initContainers',
      'add /spec/containers/0/volumeMounts',
      'add /spec/containers/0/env',
      'add /metadata/annotations',
    ],
  );
  const patched = applyAndValidate(pod, result.ops);
  assert.deepEqual(patched.spec.containers[0].env, [{ name: ENV_CLASSPATH, value: `${DEP_ENTRY}:${KAMELET_ENTRY}` }]);
  assert.deepEqual(patched.metadata.annotations, { [ANNOTATION_RESOLVED]: result.resolvedAnnotation, ...MESH_ANNOTATIONS });
  assert.match(result.warnings.join('\n'), /has no -cp argument.*CAMEL_OCI_CLASSPATH/);
});

test('a pod without metadata gets a metadata object with the annotation', () => {
  const pod = minimalPod();
  delete pod.metadata;
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.deepEqual(result.ops.at(-1), {
    op: 'add',
    path: '/metadata',
    value: { annotations: { [ANNOTATION_RESOLVED]: result.resolvedAnnotation, ...MESH_ANNOTATIONS } },
  });
  applyAndValidate(pod, result.ops);
});

test('null lists are treated as absent', () => {
  const pod = minimalPod({ env: null, volumeMounts: null });
  pod.spec.volumes = null;
  pod.spec.initContainers = null;
  pod.metadata.annotations = null;
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.deepEqual(
    result.ops.map((o) => o.path),
    ['/spec/volumes', '/spec/initContainers', '/spec/containers/0/volumeMounts', '/spec/containers/0/env', '/metadata/annotations'],
  );
  applyAndValidate(pod, result.ops);
});

test('existing annotations whose keys need escaping are kept, ours is added escaped', () => {
  const pod = helloPod();
  pod.metadata.annotations['example.com/a~b'] = 'tilde';
  pod.metadata.annotations['x/y/z'] = 'slashes';
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.ok(result.ops.some((o) => o.path === RESOLVED_KEY_PATH));
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(patched.metadata.annotations['example.com/a~b'], 'tilde');
  assert.equal(patched.metadata.annotations['x/y/z'], 'slashes');
  assert.equal(patched.metadata.annotations[ANNOTATION_RESOLVED], result.resolvedAnnotation);
});

test('the init container goes before existing init containers (agents-download)', () => {
  const pod = helloPod();
  pod.spec.initContainers = [{ name: 'agents-download', image: 'busybox', command: ['true'] }];
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.ok(result.ops.some((o) => o.op === 'add' && o.path === '/spec/initContainers/0'));
  const patched = applyAndValidate(pod, result.ops);
  assert.deepEqual(
    patched.spec.initContainers.map((c: Obj) => c.name),
    [INIT_CONTAINER_NAME, 'agents-download'],
  );
});

const classpathVariants: { name: string; container: Obj; field: 'args' | 'command'; index: number; expect: string }[] = [
  {
    name: '-classpath',
    container: { command: ['java'], args: ['-classpath', 'a.jar', 'Main'] },
    field: 'args',
    index: 1,
    expect: `a.jar:${DEP_ENTRY}`,
  },
  {
    name: '--class-path',
    container: { command: ['java'], args: ['--class-path', 'a.jar', 'Main'] },
    field: 'args',
    index: 1,
    expect: `a.jar:${DEP_ENTRY}`,
  },
  {
    name: '--class-path=PATH',
    container: { command: ['java'], args: ['--class-path=a.jar', 'Main'] },
    field: 'args',
    index: 0,
    expect: `--class-path=a.jar:${DEP_ENTRY}`,
  },
  {
    name: 'java invocation in command, no args',
    container: { command: ['java', '-Xmx1g', '-cp', 'a.jar', 'Main'] },
    field: 'command',
    index: 3,
    expect: `a.jar:${DEP_ENTRY}`,
  },
  {
    name: 'options before -cp',
    container: { command: ['java'], args: ['-javaagent:/agents/a.jar', '-Dx=1', '-cp', 'a', 'M'] },
    field: 'args',
    index: 3,
    expect: `a:${DEP_ENTRY}`,
  },
  {
    name: 'empty classpath value gets no leading colon',
    container: { command: ['java'], args: ['-cp', '', 'Main'] },
    field: 'args',
    index: 1,
    expect: DEP_ENTRY,
  },
];

for (const c of classpathVariants) {
  test(`classpath appended in place: ${c.name}`, () => {
    const pod = minimalPod(c.container);
    const result = buildInjection(pod, [artifact()], OPTIONS);
    const patched = applyAndValidate(pod, result.ops);
    assert.equal(patched.spec.containers[0][c.field][c.index], c.expect);
    assert.equal(patched.spec.containers[0].env, undefined, 'no env fallback when -cp exists');
    assert.equal(result.ops.filter((o) => o.op === 'replace').length, 1, 'one element replaced');
  });
}

test("-cp after the main class is the program's, not the JVM's: env fallback instead", () => {
  const pod = minimalPod({ command: ['java'], args: ['Main', '-cp', 'not-the-jvm'] });
  const result = buildInjection(pod, [artifact()], OPTIONS);
  const patched = applyAndValidate(pod, result.ops);
  assert.deepEqual(patched.spec.containers[0].args, ['Main', '-cp', 'not-the-jvm']);
  assert.deepEqual(patched.spec.containers[0].env, [{ name: ENV_CLASSPATH, value: DEP_ENTRY }]);
});

test('java -jar: -cp is still extended, and a warning says the JVM ignores it', () => {
  const pod = minimalPod({ command: ['java'], args: ['-cp', 'x', '-jar', 'app.jar'] });
  const result = buildInjection(pod, [artifact()], OPTIONS);
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(patched.spec.containers[0].args[1], `x:${DEP_ENTRY}`);
  assert.match(result.warnings.join('\n'), /java -jar, which ignores -cp/);
});

test('-cp missing with thousands of env entries: CAMEL_OCI_CLASSPATH appended', () => {
  const env = Array.from({ length: 5000 }, (_, i) => ({ name: `VAR_${i}`, value: String(i) }));
  const pod = minimalPod({ env });
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.ok(result.ops.some((o) => o.path === '/spec/containers/0/env/-'));
  assert.ok(result.ops.length <= 6, 'operations do not grow with the pod');
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(patched.spec.containers[0].env.length, 5001);
  assert.deepEqual(patched.spec.containers[0].env.at(-1), { name: ENV_CLASSPATH, value: `${DEP_ENTRY}:${KAMELET_ENTRY}` });
});

test('an existing CAMEL_OCI_CLASSPATH is extended without duplicates', () => {
  const pod = minimalPod({ env: [{ name: ENV_CLASSPATH, value: `/opt/x/*:${DEP_ENTRY}` }] });
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  const patched = applyAndValidate(pod, result.ops);
  assert.deepEqual(patched.spec.containers[0].env, [{ name: ENV_CLASSPATH, value: `/opt/x/*:${DEP_ENTRY}:${KAMELET_ENTRY}` }]);
});

test('entries already on -cp are not added again (idempotent classpath)', () => {
  const pod = helloPod();
  pod.spec.containers[0].args[2] = `${HELLO_CP}:${DEP_ENTRY}`;
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(patched.spec.containers[0].args[2], `${HELLO_CP}:${DEP_ENTRY}:${KAMELET_ENTRY}`);

  pod.spec.containers[0].args[2] = `${HELLO_CP}:${DEP_ENTRY}:${KAMELET_ENTRY}`;
  const again = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.ok(
    again.ops.every((o) => o.op !== 'replace'),
    'nothing to replace when every entry is present',
  );
});

test('reinvocation: the patched pod is skipped by decide and gets no operations, and -cp is not doubled', () => {
  const pod = helloPod();
  pod.metadata.annotations[ANNOTATION_DEPENDENCIES] = 'container:docker.io/acme/deps:1.0';
  assert.equal(decide(pod).action, 'inject');
  const first = buildInjection(pod, twoArtifacts(), OPTIONS);
  const patched = applyAndValidate(pod, first.ops);
  assert.deepEqual(decide(patched), { action: 'skip', reason: SKIP_REASONS.alreadyInjected });
  const second = buildInjection(patched, twoArtifacts(), OPTIONS);
  assert.deepEqual(second.ops, []);
  const twice = applyAndValidate(patched, second.ops);
  assert.equal(twice.spec.containers[0].args[2].split(DEP_ENTRY).length - 1, 1);
  assert.equal(twice.spec.initContainers.filter((c: Obj) => c.name === INIT_CONTAINER_NAME).length, 1);

  // Another webhook dropped the annotation: the init container alone still marks the pod.
  delete patched.metadata.annotations[ANNOTATION_RESOLVED];
  assert.deepEqual(decide(patched), { action: 'skip', reason: SKIP_REASONS.alreadyInjected });
  assert.deepEqual(buildInjection(patched, twoArtifacts(), OPTIONS).ops, []);
});

test('pull secrets are projected read-only into the init container, both secret types, deduplicated', () => {
  const pod = helloPod();
  pod.spec.imagePullSecrets = [{ name: 'regcred' }, { name: 'legacy-dockercfg' }, { name: 'regcred' }, { name: 'Not_A_Name' }, {}];
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  const patched = applyAndValidate(pod, result.ops);
  const volume = patched.spec.volumes.find((v: Obj) => v.name === PULL_SECRETS_VOLUME_NAME);
  assert.deepEqual(volume, {
    name: PULL_SECRETS_VOLUME_NAME,
    projected: {
      defaultMode: 0o444,
      sources: ['regcred', 'legacy-dockercfg'].map((name) => ({
        secret: {
          name,
          optional: true,
          items: [
            { key: '.dockerconfigjson', path: `${name}/.dockerconfigjson` },
            { key: '.dockercfg', path: `${name}/.dockercfg` },
          ],
        },
      })),
    },
  });
  const init = fetchContainer(patched);
  assert.deepEqual(init.volumeMounts, [
    { name: VOLUME_NAME, mountPath: '/camel-oci' },
    { name: PULL_SECRETS_VOLUME_NAME, mountPath: PULL_SECRETS_MOUNT_PATH, readOnly: true },
  ]);
  const integration = patched.spec.containers[0];
  assert.ok(
    !integration.volumeMounts.some((m: Obj) => m.name === PULL_SECRETS_VOLUME_NAME),
    'credentials stay out of the integration container',
  );
  assert.equal(result.warnings.filter((w) => /is not a Secret name/.test(w)).length, 2);
});

test('no pull secrets: no projected volume and no mount', () => {
  const result = buildInjection(helloPod(), twoArtifacts(), OPTIONS);
  const patched = applyAndValidate(helloPod(), result.ops);
  assert.ok(!patched.spec.volumes.some((v: Obj) => v.name === PULL_SECRETS_VOLUME_NAME));
  assert.equal(fetchContainer(patched).volumeMounts.length, 1);
});

test('the fetch init container passes the restricted Pod Security level on its own, whatever the pod sets', () => {
  const pods: { name: string; pod: Obj }[] = [
    { name: 'Camel K pod', pod: helloPod() },
    { name: 'Knative pod (empty pod securityContext)', pod: knativePod() },
    { name: 'pod with no securityContext', pod: minimalPod() },
    {
      name: 'pod running as root',
      pod: { ...minimalPod(), spec: { ...minimalPod().spec, securityContext: { runAsUser: 0, runAsNonRoot: false } } },
    },
  ];
  for (const { name, pod } of pods) {
    pod.spec.imagePullSecrets = [{ name: 'regcred' }];
    const patched = applyAndValidate(pod, buildInjection(pod, twoArtifacts(), OPTIONS).ops);
    const init = fetchContainer(patched);
    // Judge the container against an empty pod securityContext: it must not lean on the pod's.
    const bare = { spec: { volumes: patched.spec.volumes.filter((v: Obj) => v.name.startsWith('camel-oci')) } };
    assert.deepEqual(restrictedViolations(bare, init), [], name);
    assert.equal(init.securityContext.readOnlyRootFilesystem, true, name);
    assert.equal(init.securityContext.runAsNonRoot, true, name);
    const uid = init.securityContext.runAsUser;
    assert.ok(uid === undefined || (Number.isInteger(uid) && uid > 0), name);
    // What the kubelet will run it as: its own runAsUser, else the pod's, else the image's USER.
    const effective = uid ?? patched.spec.securityContext?.runAsUser;
    assert.notEqual(effective, 0, `${name}: never inherits root`);
  }
});

/** The fetcher's securityContext in the patched pod (after a validated apply). */
function fetcherSecurity(pod: Obj): Obj {
  return fetchContainer(applyAndValidate(pod, buildInjection(pod, twoArtifacts(), OPTIONS).ops)).securityContext;
}

const knownUidCases: { name: string; pod: () => Obj; uid: number }[] = [
  { name: 'Camel K pod-level runAsUser', pod: helloPod, uid: 1000 },
  {
    name: 'container level wins over the pod',
    pod: () => ({
      ...minimalPod({ securityContext: { runAsUser: 4242 } }),
      spec: { ...minimalPod({ securityContext: { runAsUser: 4242 } }).spec, securityContext: { runAsUser: 1000 } },
    }),
    uid: 4242,
  },
  { name: 'container level alone', pod: () => minimalPod({ securityContext: { runAsUser: 1000720000 } }), uid: 1000720000 },
];

for (const c of knownUidCases) {
  test(`the fetcher runs as the integration container's known non-root UID: ${c.name}`, () => {
    assert.equal(fetcherSecurity(c.pod()).runAsUser, c.uid);
  });
}

const unknownUidCases: { name: string; pod: () => Obj }[] = [
  { name: 'Knative pod (empty pod securityContext)', pod: knativePod },
  {
    name: 'OpenShift: Camel K sets no runAsUser (restricted-v2 assigns one)',
    pod: () => ({ ...helloPod(), spec: { ...helloPod().spec, securityContext: { runAsNonRoot: true } } }),
  },
  { name: 'no securityContext at all', pod: () => minimalPod() },
  { name: 'integration container runs as root, pod sets nothing', pod: () => minimalPod({ securityContext: { runAsUser: 0 } }) },
];

for (const c of unknownUidCases) {
  test(`no UID is hard-coded when the integration's UID is unknown (runAsUser omitted, runAsNonRoot kept): ${c.name}`, () => {
    const sc = fetcherSecurity(c.pod());
    assert.equal(Object.hasOwn(sc, 'runAsUser'), false, JSON.stringify(sc));
    assert.equal(sc.runAsNonRoot, true);
  });
}

test('a pod-level root runAsUser is overridden with the image UID, never inherited', () => {
  const root = minimalPod();
  root.spec.securityContext = { runAsUser: 0 };
  assert.equal(fetcherSecurity(root).runAsUser, FETCHER_IMAGE_UID);
  // The integration container's own non-root UID still wins over that fallback.
  const mixed = minimalPod({ securityContext: { runAsUser: 1000 } });
  mixed.spec.securityContext = { runAsUser: 0 };
  assert.equal(fetcherSecurity(mixed).runAsUser, 1000);
  // A non-root pod UID under a root integration container is inherited as is: no override needed.
  const inherits = minimalPod({ securityContext: { runAsUser: 0 } });
  inherits.spec.securityContext = { runAsUser: 1000 };
  assert.equal(Object.hasOwn(fetcherSecurity(inherits), 'runAsUser'), false);
});

test('a copied or forged resolved annotation is replaced on injection, with a warning', () => {
  const pod = helloPod();
  const forged = `[{"ref":"docker.io/acme/deps:1.0","pinned":"docker.io/acme/deps@${digest('0')}","layers":[]}]`;
  pod.metadata.annotations[ANNOTATION_DEPENDENCIES] = 'container:docker.io/acme/deps:1.0';
  pod.metadata.annotations[ANNOTATION_RESOLVED] = forged;
  assert.equal(decide(pod).action, 'inject');
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.ok(result.ops.length > 1, 'the pod is injected, not skipped');
  const annotationOps = result.ops.filter((o) => o.path === RESOLVED_KEY_PATH);
  assert.deepEqual(annotationOps, [{ op: 'add', path: RESOLVED_KEY_PATH, value: result.resolvedAnnotation }]);
  // fast-json-patch validates every op against the document (an add on an existing member is legal).
  const patched = applyAndValidate(pod, result.ops);
  assert.equal(patched.metadata.annotations[ANNOTATION_RESOLVED], result.resolvedAnnotation);
  assert.notEqual(result.resolvedAnnotation, forged);
  assert.equal(fetchContainer(patched).name, INIT_CONTAINER_NAME);
  assert.ok(
    result.warnings.some((w) => /^camel-oci: replaced a pre-existing .*container-dependencies\.resolved annotation/.test(w)),
    JSON.stringify(result.warnings),
  );
  // The project's own applier (camel-oci inject) agrees.
  assert.deepEqual(applyPatch(pod, result.ops), patched);
  // Reinvocation after that: skipped, no ops, -cp not doubled.
  assert.deepEqual(decide(patched), { action: 'skip', reason: SKIP_REASONS.alreadyInjected });
  assert.deepEqual(buildInjection(patched, twoArtifacts(), OPTIONS).ops, []);
  assert.equal(patched.spec.containers[0].args[2].split(DEP_ENTRY).length - 1, 1);
});

test('no replacement warning when the pod carries no resolved annotation', () => {
  const result = buildInjection(helloPod(), twoArtifacts(), OPTIONS);
  assert.ok(!result.warnings.some((w) => /pre-existing/.test(w)));
});

test('a replaced resolved annotation does not count twice towards the annotation budget', () => {
  const pod = helloPod();
  const first = buildInjection(helloPod(), twoArtifacts(), OPTIONS).resolvedAnnotation;
  let used = 0;
  for (const [k, v] of Object.entries(pod.metadata.annotations as Record<string, string>))
    used += Buffer.byteLength(k) + Buffer.byteLength(v);
  let resolvedBytes = Buffer.byteLength(ANNOTATION_RESOLVED) + Buffer.byteLength(first);
  for (const [k, v] of Object.entries(MESH_ANNOTATIONS)) resolvedBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  // A forged value as large as the real one, plus filler up to the exact limit counting the annotation once.
  pod.metadata.annotations[ANNOTATION_RESOLVED] = first;
  const filler = MAX_TOTAL_ANNOTATION_BYTES - used - resolvedBytes - Buffer.byteLength('example.com/big');
  pod.metadata.annotations['example.com/big'] = 'x'.repeat(filler);
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.equal(applyAndValidate(pod, result.ops).metadata.annotations[ANNOTATION_RESOLVED], first);
  pod.metadata.annotations['example.com/big'] += 'x';
  rejects(() => buildInjection(pod, twoArtifacts(), OPTIONS), 'SIZE_EXCEEDED');
});

test('options: timeout env, pull policy, resources override, size limit floor and growth', () => {
  const pod = helloPod();
  const big = [artifact({ layers: [layer('1', { size: 1024 ** 3 })] })];
  const result = buildInjection(pod, big, {
    ...OPTIONS,
    fetchTimeoutSeconds: 45,
    imagePullPolicy: 'IfNotPresent',
    fetcherResources: { limits: { memory: '512Mi' } },
  });
  const patched = applyAndValidate(pod, result.ops);
  const init = fetchContainer(patched);
  assert.deepEqual(
    init.env.find((e: Obj) => e.name === ENV_FETCH_TIMEOUT),
    { name: ENV_FETCH_TIMEOUT, value: '45' },
  );
  assert.equal(init.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(init.resources, { requests: DEFAULT_FETCHER_RESOURCES.requests, limits: { cpu: '1', memory: '512Mi' } });
  assert.equal(patched.spec.volumes.at(-1).emptyDir.sizeLimit, '4096Mi', '4x a 1 GiB layer');

  const floor = buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, volumeSizeLimit: '2Gi' });
  assert.deepEqual(floor.ops.find((o) => o.path === '/spec/volumes/-')?.value, { name: VOLUME_NAME, emptyDir: { sizeLimit: '2Gi' } });
  assert.equal(fetchContainer(applyAndValidate(helloPod(), floor.ops)).imagePullPolicy, undefined);
});

const badOptions: { name: string; options: Obj }[] = [
  { name: 'empty image', options: { fetcherImage: '' } },
  { name: 'image with spaces', options: { fetcherImage: 'a b' } },
  { name: 'size limit not a quantity', options: { ...OPTIONS, volumeSizeLimit: 'lots' } },
  { name: 'negative size limit', options: { ...OPTIONS, volumeSizeLimit: '-1Gi' } },
  { name: 'request above limit', options: { ...OPTIONS, fetcherResources: { requests: { memory: '1Gi' } } } },
  { name: 'zero timeout', options: { ...OPTIONS, fetchTimeoutSeconds: 0 } },
  { name: 'fractional timeout', options: { ...OPTIONS, fetchTimeoutSeconds: 1.5 } },
  { name: 'unknown pull policy', options: { ...OPTIONS, imagePullPolicy: 'Sometimes' } },
];

for (const c of badOptions) {
  test(`options rejected with CONFIG_INVALID: ${c.name}`, () => {
    rejects(() => buildInjection(helloPod(), twoArtifacts(), c.options as typeof OPTIONS), 'CONFIG_INVALID');
  });
}

const conflicts: { name: string; change: (pod: Obj) => void; mentions: RegExp }[] = [
  {
    name: 'a volume named camel-oci',
    change: (p) => p.spec.volumes.push({ name: VOLUME_NAME, emptyDir: {} }),
    mentions: /volume named "camel-oci"/,
  },
  {
    name: 'a volume named camel-oci-pull-secrets when pull secrets are projected',
    change: (p) => {
      p.spec.imagePullSecrets = [{ name: 'regcred' }];
      p.spec.volumes.push({ name: PULL_SECRETS_VOLUME_NAME, emptyDir: {} });
    },
    mentions: /camel-oci-pull-secrets/,
  },
  {
    name: 'an app container named camel-oci-fetch',
    change: (p) => p.spec.containers.push({ name: INIT_CONTAINER_NAME, image: 'x' }),
    mentions: /container named "camel-oci-fetch"/,
  },
  {
    name: 'something mounted at /camel-oci',
    change: (p) => {
      p.spec.volumes.push({ name: 'mine', emptyDir: {} });
      p.spec.containers[0].volumeMounts.push({ name: 'mine', mountPath: '/camel-oci' });
    },
    mentions: /already mounts something at \/camel-oci/,
  },
];

for (const c of conflicts) {
  test(`a pod not injected but using our names is refused with NAME_COLLISION: ${c.name}`, () => {
    const pod = helloPod();
    c.change(pod);
    rejects(() => buildInjection(pod, twoArtifacts(), OPTIONS), 'NAME_COLLISION', c.mentions);
    rejects(() => buildInjection(pod, twoArtifacts(), OPTIONS), 'NAME_COLLISION', /oci-injection: disabled/);
  });
}

test('a volume named camel-oci-pull-secrets is fine when no pull secret is projected', () => {
  const pod = helloPod();
  pod.spec.volumes.push({ name: PULL_SECRETS_VOLUME_NAME, emptyDir: {} });
  applyAndValidate(pod, buildInjection(pod, twoArtifacts(), OPTIONS).ops);
});

const notPods: { name: string; pod: unknown }[] = [
  { name: 'null', pod: null },
  { name: 'an array', pod: [] },
  { name: 'no spec', pod: { metadata: {} } },
  { name: 'no containers', pod: { spec: {} } },
  { name: 'empty containers', pod: { spec: { containers: [] } } },
  { name: 'containers not an array', pod: { spec: { containers: {} } } },
  { name: 'a container without a name', pod: { spec: { containers: [{ image: 'x' }] } } },
  { name: 'volumes not an array', pod: { spec: { containers: [{ name: 'a' }], volumes: 'x' } } },
];

for (const c of notPods) {
  test(`not an injectable pod, refused with UNSUPPORTED: ${c.name}`, () => {
    rejects(() => buildInjection(c.pod, twoArtifacts(), OPTIONS), 'UNSUPPORTED', /cannot inject/);
  });
}

test('hundreds of containers: linear work, the integration container found by its env, the rest untouched', () => {
  const pod = minimalPod();
  pod.spec.containers = Array.from({ length: 500 }, (_, i) => ({ name: `c${i}`, image: 'x', env: [{ name: 'A', value: '1' }] }));
  pod.spec.containers[437].env.push({ name: 'CAMEL_K_INTEGRATION', value: 'hello' });
  pod.spec.containers[437].args = ['-cp', 'a.jar', 'Main'];
  const before = structuredClone(pod);
  const result = buildInjection(pod, twoArtifacts(), OPTIONS);
  assert.equal(result.container, 'c437');
  assert.ok(result.ops.length <= 6);
  const patched = applyAndValidate(pod, result.ops);
  for (let i = 0; i < 500; i++) if (i !== 437) assert.deepEqual(patched.spec.containers[i], before.spec.containers[i]);
});

test('artifacts with no usable layer are refused with NO_USABLE_LAYERS and a way out', () => {
  const none = artifact({
    layers: [],
    ignored: [{ digest: digest('9'), mediaType: 'application/vnd.oci.image.config.v1+json', reason: 'no camel annotation' }],
  });
  rejects(() => buildInjection(helloPod(), [none], OPTIONS), 'NO_USABLE_LAYERS', /camel\.apache\.org\.dependency/);
  rejects(() => buildInjection(helloPod(), [], OPTIONS), 'NO_USABLE_LAYERS');
});

test('the same artifact by tag and by digest: one plan entry, two annotation records', () => {
  const byTag = artifact();
  const byDigest = artifact({ reference: `docker.io/acme/deps@${digest('d')}` });
  const result = buildInjection(helloPod(), [byTag, byDigest], OPTIONS);
  assert.equal(result.plan!.artifacts.length, 1);
  assert.deepEqual(result.classpath, [DEP_ENTRY]);
  assert.deepEqual(
    JSON.parse(result.resolvedAnnotation).map((r: Obj) => r.ref),
    [byTag.reference, byDigest.reference],
  );
  const init = fetchContainer(applyAndValidate(helloPod(), result.ops));
  assert.doesNotThrow(() => parsePlan(init.env[0].value));
});

test('a plan the fetcher would refuse is refused at admission instead', () => {
  const raw = artifact({ layers: [layer('1', { format: 'raw', fileName: '../escape.jar' })] });
  rejects(() => buildInjection(helloPod(), [raw], OPTIONS), 'PLAN_INVALID', /fileName/);
});

test('the resolved annotation records index, platform, ignored layers and staleness, with warnings', () => {
  const a = artifact({
    indexDigest: digest('c'),
    platform: 'linux/amd64',
    stale: true,
    ignored: [
      { digest: digest('7'), mediaType: 'text/plain', reason: 'no camel annotation' },
      { digest: digest('8'), mediaType: 'text/plain', reason: 'no camel annotation' },
    ],
  });
  const result = buildInjection(helloPod(), [a], OPTIONS);
  assert.deepEqual(JSON.parse(result.resolvedAnnotation), [
    {
      ref: a.reference,
      pinned: `docker.io/acme/deps@${digest('d')}`,
      mediaType: a.mediaType,
      layers: [digest('1')],
      ignored: [
        { digest: digest('7'), reason: 'no camel annotation' },
        { digest: digest('8'), reason: 'no camel annotation' },
      ],
      index: digest('c'),
      platform: 'linux/amd64',
      stale: true,
    },
  ]);
  assert.equal(result.warnings.length, 2);
  assert.match(result.warnings[0] ?? '', /registry unavailable/);
  assert.match(result.warnings[1] ?? '', /ignored layer sha256:777777777777 \(no camel annotation\) and 1 more/);
});

test('warnings are all returned (the webhook bounds them once, where the response is completed)', () => {
  const many = Array.from({ length: 30 }, (_, i) =>
    artifact({
      reference: `docker.io/acme/r${i}${'x'.repeat(300)}:1`,
      repository: `acme/r${i}`,
      layers: [layer(((i % 9) + 1).toString())],
      stale: true,
    }),
  );
  const result = buildInjection(helloPod(), many, OPTIONS);
  assert.equal(result.warnings.filter((w) => /stale|earlier/i.test(w)).length, 30);
  const bounded = boundWarnings(result.warnings);
  assert.ok(bounded.length <= MAX_WARNINGS);
  assert.ok(bounded.every((w) => w.length <= MAX_WARNING_CHARS));
  assert.match(bounded.at(-1) ?? '', /\d+ more warnings not shown/);
});

test('annotations pushed past the Kubernetes total are refused with SIZE_EXCEEDED', () => {
  const pod = helloPod();
  pod.metadata.annotations['example.com/big'] = 'x'.repeat(MAX_TOTAL_ANNOTATION_BYTES - 100);
  rejects(() => buildInjection(pod, twoArtifacts(), OPTIONS), 'SIZE_EXCEEDED', /256|262144/);
});

test('basePath prefixes every operation', () => {
  const deployment = { spec: { template: helloPod() } };
  const result = buildInjection(deployment.spec.template, twoArtifacts(), OPTIONS, '/spec/template');
  assert.ok(result.ops.every((o: JsonPatchOp) => o.path.startsWith('/spec/template/')));
  applyAndValidate(deployment, result.ops, (d) => d.spec.template);
  rejects(() => buildInjection(helloPod(), twoArtifacts(), OPTIONS, 'spec/template'), 'CONFIG_INVALID');
});

test('the checks used above do catch broken pods (schema typo, dangling mount, bad patch)', async () => {
  const { schemaErrors, semanticErrors, applyIndependently } = await import('./support.js');
  const typo = minimalPod({ imagePolicy: 'Always' });
  assert.notDeepEqual(schemaErrors(typo), []);
  const wrongType = minimalPod();
  wrongType.metadata.annotations = { a: 1 };
  assert.notDeepEqual(schemaErrors(wrongType), []);
  assert.deepEqual(schemaErrors(minimalPod()), []);
  assert.notDeepEqual(semanticErrors(minimalPod({ volumeMounts: [{ name: 'nope', mountPath: '/x' }] })), []);
  assert.throws(() => applyIndependently(minimalPod(), [{ op: 'add', path: '/spec/nothing/here', value: 1 }]));
});
