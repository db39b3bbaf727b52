/**
 * Resolving the references of one admission under its deadline: every distinct reference
 * concurrently, the first failure decides, and an abort wins over a failure (the resolver's own
 * rejection may just be the abort arriving). At the deadline, references still pending are answered
 * from stale-if-error when every one of them can be (a registry that hangs has failed as surely as
 * one that refuses). Shared by the pod and the Integration workflows.
 */
import { asCamelOciError, type CamelOciError } from '../base/errors.js';
import { raceSignal } from '../base/abort.js';
import type { ResolvedArtifact } from '../plan/artifact.js';
import type { ArtifactResolver, ResolveRequest } from '../resolve/types.js';

/** The outcome of resolving an admission's references. */
export type ReferencesOutcome =
  | { readonly ok: true; readonly artifacts: readonly ResolvedArtifact[] }
  /** The deadline fired: its reason, and the distinct references still pending, in request order. */
  | { readonly ok: false; readonly aborted: true; readonly reason: unknown; readonly pending: readonly string[] }
  /** A reference failed to resolve. */
  | { readonly ok: false; readonly aborted: false; readonly reference: string; readonly error: CamelOciError };

/** A rejection of one reference, kept apart from the deadline's abort. */
class ReferenceFailure {
  constructor(
    readonly reference: string,
    readonly error: CamelOciError,
  ) {}
}

/** Calls the resolver, turning a synchronous throw into a rejection and any rejection into a ReferenceFailure. */
function resolveOne(resolver: ArtifactResolver, reference: string, request: ResolveRequest): Promise<ResolvedArtifact> {
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

/**
 * Resolves `references` (duplicates once each) with `request`, whose signal is the deadline.
 * Returns the artifacts in the order of `references`. Rejects only on a bug.
 */
export async function resolveReferences(
  resolver: ArtifactResolver,
  references: readonly string[],
  request: ResolveRequest & { readonly signal: AbortSignal },
): Promise<ReferencesOutcome> {
  const unique = [...new Set(references)];
  const pending = new Set(unique);
  const byReference = new Map<string, ResolvedArtifact>();
  try {
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
  } catch (err) {
    if (request.signal.aborted) {
      // The deadline passed with the registry silent: stale-if-error covers that failure too, when
      // every reference still pending has a digest within the grace (answered from the caches).
      const stale = [...pending].map((ref) => [ref, resolver.staleArtifact?.(ref, request)] as const);
      if (pending.size > 0 && stale.every(([, a]) => a !== undefined)) {
        for (const [ref, a] of stale) byReference.set(ref, a!);
        return { ok: true, artifacts: references.map((ref) => byReference.get(ref) as ResolvedArtifact) };
      }
      return { ok: false, aborted: true, reason: request.signal.reason, pending: [...pending] };
    }
    if (err instanceof ReferenceFailure) return { ok: false, aborted: false, reference: err.reference, error: err.error };
    throw err;
  }
  return { ok: true, artifacts: references.map((ref) => byReference.get(ref) as ResolvedArtifact) };
}
