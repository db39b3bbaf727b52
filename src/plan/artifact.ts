/** What resolution produces: a pinned manifest and the layers camel-oci will fetch from it. */

/** What a selected layer is for. */
export type LayerKind = 'dependency' | 'kamelets';

/** How a layer's bytes are laid out. */
export type LayerFormat = 'tar' | 'tar+gzip' | 'raw';

/** A layer chosen by the selection rules of docs/architecture.md ("Layout of the shared volume"). */
export interface SelectedLayer {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  readonly kind: LayerKind;
  readonly format: LayerFormat;
  /** Human name: the camel annotation's value, else the title. */
  readonly name: string;
  /** For raw layers: the file name it lands as (title, else `<hex12>.jar`). */
  readonly fileName?: string;
  /** For tar layers: the `org.opencontainers.image.title` (push titles them `dependencies-<name>.tar.gz`, `kamelets-<name>.tar.gz`). */
  readonly title?: string;
}

/** A layer the selection rules ignored, and why. */
export interface IgnoredLayer {
  readonly digest: string;
  readonly mediaType: string;
  readonly reason: string;
}

/** One `container:` reference resolved to an immutable manifest. */
export interface ResolvedArtifact {
  /** The reference as the user wrote it, without the `container:` prefix. */
  readonly reference: string;
  /** Registry host[:port] as named in the reference (`docker.io`, `127.0.0.1:5000`). */
  readonly domain: string;
  /** Host[:port] actually contacted (`registry-1.docker.io` for `docker.io`). */
  readonly registry: string;
  /** Repository path (`library/foo`, `acme/deps`). */
  readonly repository: string;
  readonly scheme: 'https' | 'http';
  /** Mirrors configured for `registry`, tried in order before it (empty or absent: none). */
  readonly mirrors?: readonly { readonly registry: string; readonly scheme: 'https' | 'http' }[];
  /** Host[:port] of the mirror that answered the manifest, when a mirror did (absent: the upstream). */
  readonly source?: string;
  /** sha256 digest of the image manifest bytes (the child manifest when the reference named an index). */
  readonly digest: string;
  readonly mediaType: string;
  /** Digest of the index the manifest was chosen from, when there was one. */
  readonly indexDigest?: string;
  /** Platform chosen from the index, when there was one (`linux/amd64`). */
  readonly platform?: string;
  readonly layers: readonly SelectedLayer[];
  readonly ignored: readonly IgnoredLayer[];
  /** Set when the registry failed and a recently resolved digest was used instead (stale-if-error). */
  readonly stale?: boolean;
  /** The manifest's `artifactType` (camel-oci push writes its own), when it has one. */
  readonly artifactType?: string;
  /** Media type of the manifest's config blob (an OCI image config for a mountable image). */
  readonly configMediaType?: string;
  /** Whose credentials resolved it: the pod's pull secrets, or the resolver's own (which the fetcher does not get). */
  readonly credentials?: 'pod' | 'webhook';
}

/** `domain/repository@digest`: the pinned form auditors read. */
export function pinnedReference(a: Pick<ResolvedArtifact, 'domain' | 'repository' | 'digest'>): string {
  return `${a.domain}/${a.repository}@${a.digest}`;
}

/** The last renamed copy of each frozen artifact. */
const renamed = new WeakMap<ResolvedArtifact, ResolvedArtifact>();

/**
 * `a` naming `reference` (as the pod asked for it: a pinned pod asks by tag and resolves by digest;
 * two spellings share one cached artifact). The copy of a frozen (cached) artifact is frozen too and
 * kept per instance, so identical admissions get the same instance, not a new object each.
 */
export function withReference(a: ResolvedArtifact, reference: string): ResolvedArtifact {
  if (a.reference === reference) return a;
  const known = renamed.get(a);
  if (known !== undefined && known.reference === reference) return known;
  const copy: ResolvedArtifact = { ...a, reference };
  if (!Object.isFrozen(a)) return copy;
  Object.freeze(copy);
  renamed.set(a, copy);
  return copy;
}
