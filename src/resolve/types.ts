/** The resolver as its callers (webhook, CLI) see it. */
import type { DockerConfig } from '../oci/docker-config.js';
import type { ResolvedArtifact } from '../plan/artifact.js';

/** Per-call options of a resolution. */
export interface ResolveRequest {
  /** Aborts the resolution (the caller's deadline). */
  readonly signal?: AbortSignal;
  /** A pod's pull secrets, parsed, tried before the resolver's own credentials. */
  readonly pullSecrets?: readonly DockerConfig[];
  /** `os/arch[/variant]` to pick from an index; the resolver's default when absent. */
  readonly platform?: string;
  /** Ask the registry what each tag points at now, even when a cached answer is still fresh (an explicit refresh). */
  readonly refreshTags?: boolean;
}

/** Resolves one `container:` reference (with or without the prefix) to a pinned artifact. */
export interface ArtifactResolver {
  /** Resolves a reference; rejects with a CamelOciError whose code says why. */
  resolve(reference: string, request?: ResolveRequest): Promise<ResolvedArtifact>;
  /**
   * What stale-if-error would answer for a tag now, from the caches alone (no registry request):
   * the artifact the tag named within the stale grace, marked `stale`; undefined when there is none
   * (a digest reference, an unknown tag, a grace that ran out). For a deadline that passes while the
   * registry does not answer: that is a registry failure like any other.
   */
  staleArtifact?(reference: string, request?: ResolveRequest): ResolvedArtifact | undefined;
}
