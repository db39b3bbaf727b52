/**
 * Resolution helpers shared by the admission workflows (pods, Integrations and Pipes): one
 * reference's failure kept apart from the deadline's abort, and the wording of denials.
 */
import { asCamelOciError, type CamelOciError } from '../base/errors.js';
import { raceSignal } from '../base/abort.js';
import type { ResolvedArtifact } from '../plan/artifact.js';
import type { ArtifactResolver, ResolveRequest } from '../resolve/types.js';

/** Prefixes a message with `camel-oci: ` unless it already names camel-oci (kubectl prints warnings without a source). */
export function withPrefix(message: string): string {
  return message.startsWith('camel-oci') ? message : `camel-oci: ${message}`;
}

/** A rejection of one reference, kept apart from the deadline's abort. */
export class ReferenceFailure {
  constructor(readonly reference: string, readonly error: CamelOciError) {}
}

/** HTTP-like code of a denial caused by a resolution error: transient failures are not the writer's fault. */
export function denialCode(err: CamelOciError): number {
  if (err.code === 'TIMEOUT') return 504;
  return err.retryable ? 503 : 403;
}

/** Calls the resolver, turning a synchronous throw into a rejection and any rejection into a ReferenceFailure. */
export function resolveOne(resolver: ArtifactResolver, reference: string, request: ResolveRequest): Promise<ResolvedArtifact> {
  let p: Promise<ResolvedArtifact>;
  try {
    p = resolver.resolve(reference, request);
  } catch (err) {
    p = Promise.reject(err);
  }
  return p.catch((err: unknown) => {
    throw new ReferenceFailure(reference, asCamelOciError(err));
  });
}

/** Drops a leading `container:REF: ` from an error message that already names the reference. */
export function withoutSubject(message: string, reference: string): string {
  const bare = reference.replace(/^container:/, '');
  for (const prefix of [`container:${bare}: `, `${bare}: `]) if (message.startsWith(prefix)) return message.slice(prefix.length);
  return message;
}

/**
 * Resolves every distinct reference concurrently under `request.signal` and returns the artifacts
 * in the order of `references`. Rejects with a ReferenceFailure for the first reference that fails,
 * or with the signal's reason when it aborts first; `pending` (optional) is left holding the
 * references still unresolved, for a timeout message.
 */
export async function resolveAll(
  resolver: ArtifactResolver,
  references: readonly string[],
  request: ResolveRequest & { readonly signal: AbortSignal },
  pending: Set<string> = new Set(),
): Promise<ResolvedArtifact[]> {
  const unique = [...new Set(references)];
  for (const r of unique) pending.add(r);
  const byReference = new Map<string, ResolvedArtifact>();
  await raceSignal(
    Promise.all(
      unique.map((ref) =>
        resolveOne(resolver, ref, request).then((a) => {
          byReference.set(ref, a);
          pending.delete(ref);
        }),
      ),
    ),
    request.signal,
  );
  return references.map((ref) => byReference.get(ref) as ResolvedArtifact);
}
