/**
 * Objects as a cluster holds them for the audit tests: Camel K pods admitted by this webhook (the
 * fixture pod, injected with the project's own buildInjection and applied with its own applier,
 * then given the name, uid and timestamp the apiserver adds), pods that were not injected, and
 * Integrations and Pipes as `kamel run` / `kamel bind` create them and the webhook pins them.
 */
import { buildInjection } from '../../src/inject/patch.js';
import { admitPod } from '../../src/admit/pod.js';
import type { ArtifactResolver } from '../../src/resolve/types.js';
import { createLogger } from '../../src/base/logger.js';
import { applyPatch } from '../../src/inject/apply.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';
import { ANNOTATION_PINNED } from '../../src/inject/annotations.js';
import { camelKPod, DEPS } from '../webhook/support.js';
import { OPTIONS } from '../inject/support.js';

/** A JSON object in a test. */
export type Obj = Record<string, any>;

/** What a pod carries besides what Camel K puts on it. */
export interface PodSpecOptions {
  readonly namespace?: string;
  /** Suffix of the generated name (`<integration>-6f9c7d8b5d-<suffix>`). */
  readonly suffix: string;
  readonly created: string;
  /** References requested (annotation value written as `container:REF,…`); none: no request annotation. */
  readonly request?: readonly string[];
  /** Resolved artifacts the webhook injected; absent: the pod was admitted without injection. */
  readonly injected?: readonly ResolvedArtifact[];
  /** Admit the pod through the webhook's own workflow (admitPod) with this resolver instead. */
  readonly admitWith?: ArtifactResolver;
  /** Inject with --image-volumes on. */
  readonly imageVolumes?: boolean;
  /** Extra annotations (pins copied from the Integration, opt-out, a forged resolved annotation...). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The request annotation value for references. */
export function requestValue(refs: readonly string[]): string {
  return refs.map((r) => `container:${r}`).join(',');
}

/** The pins annotation value the webhook writes: `REF@digest`, in request order (the index digest when the tag names one). */
export function pinsValue(artifacts: readonly ResolvedArtifact[]): string {
  return artifacts.map((a) => `${a.reference}@${a.indexDigest ?? a.digest}`).join(',');
}

/** A pod admitted through the webhook's own pod workflow (src/admit/pod.ts) with `admitWith`, as then stored by the apiserver. */
export async function admittedPod(integration: string, o: PodSpecOptions & { admitWith: ArtifactResolver }): Promise<Obj> {
  const pod = integrationPod(integration, o);
  // Back to what the apiserver sends the webhook: no name, uid or status yet.
  const sent: Obj = structuredClone(pod);
  for (const k of ['name', 'uid', 'creationTimestamp', 'resourceVersion']) delete sent.metadata[k];
  delete sent.status;
  const logger = createLogger({ level: 'silent' });
  const answer = await admitPod(
    sent,
    sent.metadata.namespace,
    { resolver: o.admitWith, inject: OPTIONS, onError: 'deny' },
    { signal: AbortSignal.timeout(30_000), logger },
  );
  if (answer.result.type !== 'patched') throw new Error(`the webhook did not patch the pod: ${JSON.stringify(answer.result)}`);
  const admitted: Obj = applyPatch(sent, answer.result.ops);
  admitted.metadata = {
    ...admitted.metadata,
    name: pod.metadata.name,
    uid: pod.metadata.uid,
    creationTimestamp: pod.metadata.creationTimestamp,
    resourceVersion: '4711',
  };
  admitted.status = pod.status;
  return admitted;
}

/** A pod of integration `integration` as stored by the apiserver after admission. */
export function integrationPod(integration: string, o: PodSpecOptions): Obj {
  const annotations: Record<string, string> = { ...(o.annotations ?? {}) };
  if (o.request !== undefined) annotations[DEPS] = requestValue(o.request);
  let pod: Obj = camelKPod('hello', annotations);
  pod.metadata.namespace = o.namespace ?? 'demo';
  pod.metadata.labels['camel.apache.org/integration'] = integration;
  pod.metadata.generateName = `${integration}-6f9c7d8b5d-`;
  if (o.injected !== undefined) {
    const { ops } = buildInjection(pod, o.injected, o.imageVolumes === true ? { ...OPTIONS, imageVolumes: true } : OPTIONS);
    pod = applyPatch(pod, ops);
  }
  // What the apiserver adds at creation, and what the kubelet reports.
  pod.metadata.name = `${pod.metadata.generateName}${o.suffix}`;
  pod.metadata.uid = `uid-${pod.metadata.name}`;
  pod.metadata.creationTimestamp = o.created;
  pod.metadata.resourceVersion = '4711';
  pod.status = { phase: 'Running', startTime: o.created };
  return pod;
}

/** What an Integration or Pipe carries. */
export interface CamelObjectOptions {
  readonly namespace?: string;
  /** Request annotation references. */
  readonly request?: readonly string[];
  /** Pinned artifacts (the pins annotation and CAMEL_OCI_DEPENDENCIES), in request order. */
  readonly pinned?: readonly ResolvedArtifact[];
  /** Raw pins annotation value (for malformed ones). */
  readonly pinsText?: string;
  /** `spec.dependencies` (e.g. `container:` entries the webhook never moved). */
  readonly dependencies?: readonly string[];
}

function camelMetadata(name: string, o: CamelObjectOptions): Obj {
  const annotations: Record<string, string> = { 'camel.apache.org/operator.id': 'camel-k' };
  if (o.request !== undefined) annotations[DEPS] = requestValue(o.request);
  if (o.pinned !== undefined) annotations[ANNOTATION_PINNED] = pinsValue(o.pinned);
  if (o.pinsText !== undefined) annotations[ANNOTATION_PINNED] = o.pinsText;
  return {
    name,
    namespace: o.namespace ?? 'demo',
    uid: `uid-it-${name}`,
    generation: 1,
    resourceVersion: '815',
    creationTimestamp: '2026-12-01T09:00:00Z',
    annotations,
  };
}

function traitsOf(o: CamelObjectOptions): Obj {
  const vars = ['GREETING=hello'];
  if (o.pinned !== undefined) vars.push(`CAMEL_OCI_DEPENDENCIES=${pinsValue(o.pinned)}`);
  return { environment: { vars } };
}

/** An Integration as `kamel run hello.yaml -d camel:http …` creates it, after the webhook. */
export function integration(name: string, o: CamelObjectOptions = {}): Obj {
  return {
    apiVersion: 'camel.apache.org/v1',
    kind: 'Integration',
    metadata: camelMetadata(name, o),
    spec: {
      dependencies: ['camel:http', 'mvn:com.acme:util:1.2', ...(o.dependencies ?? [])],
      sources: [{ name: 'hello.yaml', content: '- from:\n    uri: timer:tick\n    steps:\n      - log: hello\n' }],
      traits: traitsOf(o),
    },
    status: { phase: 'Running', digest: 'vK8gD2Qx1', replicas: 2 },
  };
}

/** A Pipe as `kamel bind timer-source log-sink` creates it, after the webhook. */
export function pipe(name: string, o: CamelObjectOptions = {}): Obj {
  return {
    apiVersion: 'camel.apache.org/v1',
    kind: 'Pipe',
    metadata: camelMetadata(name, o),
    spec: {
      source: { ref: { apiVersion: 'camel.apache.org/v1', kind: 'Kamelet', name: 'timer-source' }, properties: { message: 'hi' } },
      sink: { ref: { apiVersion: 'camel.apache.org/v1', kind: 'Kamelet', name: 'log-sink' } },
      ...(o.dependencies !== undefined ? { dependencies: [...o.dependencies] } : {}),
      traits: traitsOf(o),
    },
    status: { phase: 'Ready' },
  };
}

/** The Integration the Pipe controller derives from a Pipe: annotations copied, owned by the Pipe. */
export function pipeIntegration(p: Obj): Obj {
  const it = integration(p.metadata.name, { namespace: p.metadata.namespace });
  it.metadata.annotations = { ...p.metadata.annotations };
  it.metadata.ownerReferences = [
    {
      apiVersion: 'camel.apache.org/v1',
      kind: 'Pipe',
      name: p.metadata.name,
      uid: p.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  it.spec = {
    dependencies: [...(p.spec.dependencies ?? [])],
    traits: structuredClone(p.spec.traits),
    flows: [{ route: { from: { uri: 'kamelet:timer-source' } } }],
  };
  return it;
}
