/**
 * Shared by the inject tests: synthetic resolved artifacts, an independent patch applier
 * (fast-json-patch, with validation), the strict Pod schema, and the checks the schema cannot make
 * (names unique, mounts pointing at volumes) plus the "restricted" Pod Security rules.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import type { ResolvedArtifact, SelectedLayer } from '../../src/plan/artifact.js';
import type { JsonPatchOp } from '../../src/inject/patch.js';
import { fixtureJson } from '../helpers/fixtures.js';

/** A JSON object in a test. */
export type Obj = Record<string, any>;

/** The Deployment-backed Camel K pod as admitted (a fresh copy). */
export const helloPod = (): Obj => fixtureJson<Obj>('camel-k-pods/camel-k-hello-pod.json');
/** The Knative-served Camel K pod as admitted, with queue-proxy (a fresh copy). */
export const knativePod = (): Obj => fixtureJson<Obj>('camel-k-pods/camel-k-knative-pod.json');

/** A sha256 digest made of one repeated hex character (readable in failures). */
export function digest(c: string): string {
  return `sha256:${c.repeat(64)}`;
}

/** A selected dependency layer (tar+gzip) with the given digest character. */
export function layer(c: string, over: Partial<SelectedLayer> = {}): SelectedLayer {
  return {
    digest: digest(c),
    size: 16724,
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    kind: 'dependency',
    format: 'tar+gzip',
    name: `com.acme:lib-${c}:1.0`,
    ...over,
  };
}

/** A resolved artifact `docker.io/acme/<repo>:1.0` with one dependency layer unless told otherwise. */
export function artifact(over: Partial<ResolvedArtifact> = {}): ResolvedArtifact {
  return {
    reference: 'docker.io/acme/deps:1.0',
    domain: 'docker.io',
    registry: 'registry-1.docker.io',
    repository: 'acme/deps',
    scheme: 'https',
    digest: digest('d'),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    layers: [layer('1')],
    ignored: [],
    ...over,
  };
}

/** A dependency artifact plus a kamelets artifact: the usual two-reference case. */
export function twoArtifacts(): ResolvedArtifact[] {
  return [
    artifact(),
    artifact({
      reference: 'quay.io/acme/kamelets@' + digest('e'),
      domain: 'quay.io',
      registry: 'quay.io',
      repository: 'acme/kamelets',
      digest: digest('e'),
      layers: [layer('2', { kind: 'kamelets', name: 'acme-kamelets', size: 73109 })],
    }),
  ];
}

/** Default options used by the tests. */
export const OPTIONS = { fetcherImage: 'ghcr.io/acme/camel-oci@' + digest('f') } as const;

/** Applies a patch with fast-json-patch (validating every operation), leaving `doc` untouched. */
export function applyIndependently<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const err = fastJsonPatch.validate(ops as Operation[], doc);
  if (err !== undefined) throw err;
  return fastJsonPatch.applyPatch(doc, ops as Operation[], true, false).newDocument;
}

let podSchema: ValidateFunction | undefined;

/** Schema errors of a pod against the strict Kubernetes 1.32 Pod schema ([] when valid). */
export function schemaErrors(pod: unknown): string[] {
  if (podSchema === undefined) {
    const schema = fixtureJson<Obj>('kubernetes-pod-schema/pod-v1-v1.32.2-standalone-strict.json');
    delete schema.$schema; // "http://json-schema.org/schema#" is no meta-schema ajv knows; the keywords are draft-07's
    // strict: false because the schema carries x-kubernetes-* vendor keywords (README of the fixture).
    const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
    addFormats.default(ajv);
    ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
    podSchema = ajv.compile(schema);
  }
  return podSchema(pod) ? [] : (podSchema.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/**
 * The apiserver's semantic checks the schema cannot express, for what injection touches: unique
 * container names across containers and initContainers, unique volume names, every mount naming a
 * volume, unique mount paths per container, string annotation values.
 */
export function semanticErrors(pod: Obj): string[] {
  const out: string[] = [];
  const spec = pod.spec ?? {};
  const all: Obj[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const names = all.map((c) => c.name);
  if (new Set(names).size !== names.length) out.push(`duplicate container names: ${names.join(',')}`);
  const volumes: string[] = (spec.volumes ?? []).map((v: Obj) => v.name);
  if (new Set(volumes).size !== volumes.length) out.push(`duplicate volume names: ${volumes.join(',')}`);
  for (const c of all) {
    const paths = (c.volumeMounts ?? []).map((m: Obj) => m.mountPath);
    if (new Set(paths).size !== paths.length) out.push(`${c.name}: duplicate mount paths`);
    for (const m of c.volumeMounts ?? []) if (!volumes.includes(m.name)) out.push(`${c.name}: mount ${m.name} names no volume`);
    const env = (c.env ?? []).map((e: Obj) => e.name);
    if (new Set(env).size !== env.length) out.push(`${c.name}: duplicate env names`);
  }
  for (const [k, v] of Object.entries(pod.metadata?.annotations ?? {}))
    if (typeof v !== 'string') out.push(`annotation ${k} is not a string`);
  return out;
}

/** Applies with fast-json-patch and asserts the result is a valid pod; returns it. */
export function applyAndValidate(doc: Obj, ops: readonly JsonPatchOp[], podOf: (d: Obj) => Obj = (d) => d): Obj {
  const patched = applyIndependently(doc, ops);
  const pod = podOf(patched);
  const errors = [...schemaErrors(pod), ...semanticErrors(pod)];
  if (errors.length > 0) throw new Error(`patched pod is invalid:\n${errors.join('\n')}`);
  return patched;
}

/**
 * Violations of the "restricted" Pod Security Standard (v1.32, linux) by one container of a pod,
 * using the pod-level securityContext as the fallback the standard allows.
 */
export function restrictedViolations(pod: Obj, container: Obj): string[] {
  const out: string[] = [];
  const psc: Obj = pod.spec?.securityContext ?? {};
  const sc: Obj = container.securityContext ?? {};
  if (sc.privileged === true) out.push('privileged');
  if (sc.allowPrivilegeEscalation !== false) out.push('allowPrivilegeEscalation != false');
  const runAsNonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
  if (runAsNonRoot !== true) out.push('runAsNonRoot != true');
  const runAsUser = sc.runAsUser ?? psc.runAsUser;
  if (runAsUser === 0) out.push('runAsUser = 0');
  const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push('seccompProfile not RuntimeDefault/Localhost');
  const drop: string[] = sc.capabilities?.drop ?? [];
  if (!drop.includes('ALL')) out.push('capabilities.drop lacks ALL');
  const add: string[] = sc.capabilities?.add ?? [];
  if (add.some((c) => c !== 'NET_BIND_SERVICE')) out.push('capabilities.add beyond NET_BIND_SERVICE');
  if ((container.ports ?? []).some((p: Obj) => p.hostPort !== undefined && p.hostPort !== 0)) out.push('hostPort');
  const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
  for (const v of pod.spec?.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (type === undefined || !allowedVolumes.includes(type)) out.push(`volume ${v.name} of type ${type}`);
  }
  return out;
}

/** The init container of a patched pod. */
export function fetchContainer(pod: Obj): Obj {
  const c = (pod.spec.initContainers ?? []).find((c: Obj) => c.name === 'camel-oci-fetch');
  if (c === undefined) throw new Error('no camel-oci-fetch init container');
  return c;
}
