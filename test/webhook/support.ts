/** Shared pieces of the webhook tests: an in-memory logger, fake resolvers, artifacts, pods and reviews. */
import { createHash } from 'node:crypto';
import jsonpatch from 'fast-json-patch';
import { CamelOciError, type ErrorCode } from '../../src/base/errors.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';
import type { ArtifactResolver, ResolveRequest } from '../../src/resolve/types.js';
import type { JsonPatchOperation } from '../../src/admit/result.js';
import { createLogger, type Logger } from '../../src/base/logger.js';
import { fixtureJson } from '../helpers/fixtures.js';

/** A logger writing into an array of parsed lines. */
export function memoryLogger(level = 'info'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level, destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
  return { logger, lines };
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** A resolved artifact for `reference` (`host/repo:tag`), with one dependency layer, digests derived from the reference. */
export function artifactFor(reference: string, extra: Partial<ResolvedArtifact> = {}): ResolvedArtifact {
  const bare = reference.startsWith('container:') ? reference.slice('container:'.length) : reference;
  const slash = bare.indexOf('/');
  const domain = bare.slice(0, slash);
  const repository = bare.slice(slash + 1).replace(/[:@].*$/, '');
  return {
    reference: bare,
    domain,
    registry: domain,
    repository,
    scheme: 'http',
    digest: sha256(`manifest of ${bare}`),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    layers: [
      {
        digest: sha256(`layer of ${bare}`),
        size: 16_724,
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        kind: 'dependency',
        format: 'tar+gzip',
        name: 'com.acme:foo:1.0',
      },
    ],
    ignored: [],
    ...extra,
  };
}

/** How the fake resolver answers one reference. */
export type FakeAnswer =
  | { readonly artifact: ResolvedArtifact; readonly delayMs?: number }
  | { readonly error: CamelOciError; readonly delayMs?: number }
  | { readonly never: true };

/** A recorded resolver call. */
export interface ResolverCall {
  readonly reference: string;
  readonly request: ResolveRequest | undefined;
}

/**
 * A fake ArtifactResolver: answers from a table (by reference without prefix), defaulting to
 * `artifactFor(reference)`; records calls and the largest number of resolutions in flight.
 */
export class FakeResolver implements ArtifactResolver {
  readonly calls: ResolverCall[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** What staleArtifact answers, by bare reference: digests resolved earlier, within the grace. */
  readonly stale = new Map<string, ResolvedArtifact>();
  constructor(readonly answers: Map<string, FakeAnswer> = new Map()) {}

  staleArtifact(reference: string): ResolvedArtifact | undefined {
    const bare = reference.startsWith('container:') ? reference.slice('container:'.length) : reference;
    const old = this.stale.get(bare);
    return old === undefined ? undefined : { ...old, stale: true };
  }

  resolve(reference: string, request?: ResolveRequest): Promise<ResolvedArtifact> {
    const bare = reference.startsWith('container:') ? reference.slice('container:'.length) : reference;
    this.calls.push({ reference, request });
    const answer = this.answers.get(bare) ?? { artifact: artifactFor(bare) };
    if ('never' in answer) return new Promise(() => undefined); // ignores the signal on purpose
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<ResolvedArtifact>((resolve, reject) => {
      setTimeout(() => {
        this.inFlight--;
        if ('error' in answer) reject(answer.error);
        else resolve(answer.artifact);
      }, answer.delayMs ?? 0);
    });
  }
}

/** A resolution failure as the resolver raises it. */
export function resolveFailure(code: ErrorCode, message: string, retryable = false): FakeAnswer {
  return { error: new CamelOciError(code, message, { retryable }) };
}

/** The dependencies annotation key. */
export const DEPS = 'camel.apache.org/container-dependencies';

/** A Camel K pod fixture (fresh copy), optionally with extra annotations. */
export function camelKPod(name: 'hello' | 'knative', annotations: Record<string, string> = {}): Record<string, any> {
  const pod = fixtureJson<Record<string, any>>(`camel-k-pods/camel-k-${name}-pod.json`);
  pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...annotations };
  return pod;
}

/** Fields of a review's request that tests vary. */
export interface ReviewFields {
  readonly uid?: string;
  readonly operation?: string;
  readonly kind?: { group: string; version: string; kind: string };
  readonly resource?: { group: string; version: string; resource: string };
  readonly subResource?: string;
  readonly namespace?: string;
  readonly oldObject?: unknown;
}

/** An AdmissionReview v1 request as the apiserver sends it for a Pod CREATE (fields overridable). */
export function reviewOf(
  object: unknown,
  fields: ReviewFields = {},
): { apiVersion: string; kind: string; request: Record<string, unknown> } {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: fields.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: fields.kind ?? { group: '', version: 'v1', kind: 'Pod' },
      resource: fields.resource ?? { group: '', version: 'v1', resource: 'pods' },
      requestKind: fields.kind ?? { group: '', version: 'v1', kind: 'Pod' },
      requestResource: fields.resource ?? { group: '', version: 'v1', resource: 'pods' },
      ...(fields.subResource !== undefined ? { subResource: fields.subResource } : {}),
      name: '',
      namespace: fields.namespace ?? 'demo',
      operation: fields.operation ?? 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:serviceaccounts', 'system:authenticated'],
      },
      object,
      oldObject: fields.oldObject ?? null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

/** Applies a JSON Patch with an independent RFC 6902 implementation (fast-json-patch), validating every op. */
export function applyOps<T>(doc: T, ops: readonly JsonPatchOperation[]): T {
  return jsonpatch.applyPatch(structuredClone(doc), ops as jsonpatch.Operation[], true, false).newDocument;
}
