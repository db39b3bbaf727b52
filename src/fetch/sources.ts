/**
 * Where the fetcher reads a plan artifact from: the plan's mirrors, then the mirrors of its own
 * `--registry-mirror` for that registry, then the plan's registry. Every source meets the fetcher's
 * own policy in full (no plan field widens it) and authenticates with the credential matched by its
 * own host. Every manifest and blob is verified whatever answers; a source that serves wrong bytes
 * is done for that blob, and the next one is tried.
 */
import { CamelOciError, FetchError } from '../base/errors.js';
import type { Credential } from '../oci/docker-config.js';
import { parseReference } from '../oci/reference.js';
import type { PlanArtifact } from '../plan/plan.js';
import type { FetchedManifest, RegistryClient, RepositoryLocation } from '../registry/client.js';
import { configuredMirrors, everySourceFailed, isWrongBytes, locationOf, sourcesOf, trySources } from '../registry/mirrors.js';
import type { MirrorTable, RegistrySource, SourceFailure } from '../registry/mirrors.js';
import type { RegistryPolicy } from '../registry/policy.js';

/** A source of one artifact, with the credential matched by its own host. */
export interface FetchSource extends RegistrySource {
  readonly location: RepositoryLocation;
  readonly credential?: Credential;
}

/** The registry domain a plan reference names, else the host contacted. */
function domainOf(reference: string, registry: string): string {
  try {
    return parseReference(reference).domain;
  } catch {
    return registry;
  }
}

/**
 * The sources of a plan artifact, in the order they are tried: the plan's mirrors, the fetcher's
 * own mirrors for the registry (matched by the reference's domain and by the host contacted), then
 * the plan's registry; no duplicates. Each mirror is checked against `policy` as a registry is
 * (the allow-list, plain HTTP only where --insecure-registry names it): throws POLICY_DENIED
 * before any connection. The plan's registry itself is checked by the caller, as before mirrors.
 */
export function artifactSources(
  artifact: PlanArtifact,
  policy: RegistryPolicy,
  ownMirrors: MirrorTable | undefined,
  credentialFor: (registry: string, repository: string) => Credential | undefined,
): FetchSource[] {
  const subject = `container:${artifact.reference}`;
  const own = configuredMirrors(ownMirrors, domainOf(artifact.reference, artifact.registry), artifact.registry);
  const sources = sourcesOf(policy, artifact, [...(artifact.mirrors ?? []), ...own], subject);
  return sources.map((s) => withCredential(s, artifact.repository, credentialFor));
}

/** A source with its location and the credential its own host matches. */
export function withCredential(
  source: RegistrySource,
  repository: string,
  credentialFor: (registry: string, repository: string) => Credential | undefined,
): FetchSource {
  const credential = credentialFor(source.registry, repository);
  return { ...source, location: locationOf(source, repository), ...(credential ? { credential } : {}) };
}

/** The call context of one source: the run's deadline and that source's own credential. */
export function callFor(
  source: FetchSource,
  signal: AbortSignal,
  deadline: number,
): { signal: AbortSignal; deadline: number; credential?: Credential } {
  return { signal, deadline, ...(source.credential ? { credential: source.credential } : {}) };
}

/**
 * Reads the manifest by its pinned digest from the first source whose bytes hash to it (the client
 * checks the sha256); a source that is down, lacks it or serves other bytes hands over to the next.
 */
export async function readPinnedManifest(
  client: RegistryClient,
  sources: readonly FetchSource[],
  digest: string,
  run: { signal: AbortSignal; deadline: number; onFailure?: (failure: SourceFailure) => void },
  subject: string,
): Promise<FetchedManifest> {
  const { value } = await trySources(
    sources,
    (s) => client.manifest((s as FetchSource).location, digest, callFor(s as FetchSource, run.signal, run.deadline), subject),
    { signal: run.signal, what: `manifest ${digest} of ${subject}`, ...(run.onFailure ? { onFailure: run.onFailure } : {}) },
  );
  return value;
}

/** What the runner does after a failed download of a layer. */
export type SourceStep =
  /** Try `current` (another source) now, without using up a whole-layer attempt. */
  | { readonly next: 'source' }
  /** Every source failed in this round and one may succeed again: a new whole-layer attempt from the first. */
  | { readonly next: 'again' }
  /** Give up with this error. */
  | { readonly error: unknown };

/**
 * The sources of one blob across its download attempts. A round tries each source once, in order;
 * a source that served wrong bytes (digest or size) is dropped for this blob; when a round ends
 * and a remaining source failed in a way a retry may cure, the next whole-layer attempt starts a
 * new round. With one source this is exactly the single-registry behaviour.
 */
export class BlobSources {
  private index = 0;
  private readonly dropped = new Set<number>();
  /** The last failure of each source, by source index. */
  private readonly last = new Map<number, SourceFailure>();
  private round: number[] = [];

  /** `what` names the blob in the combined error; `onFailure` hears of each failed source when there are several. */
  constructor(
    private readonly sources: readonly FetchSource[],
    private readonly what: string,
    private readonly onFailure?: (failure: SourceFailure) => void,
  ) {
    if (sources.length === 0) throw new FetchError('INTERNAL', `${what}: no source to fetch it from`);
  }

  /** The source the next request goes to. */
  get current(): FetchSource {
    return this.sources[this.index]!;
  }

  /**
   * Records that the current source failed with `err` and says what to do next. `mayRetry` is the
   * runner's own rule for a new whole-layer attempt (retryable, attempts left).
   */
  failed(err: unknown, mayRetry: (err: unknown) => boolean): SourceStep {
    if (this.sources.length === 1) return mayRetry(err) ? { next: 'again' } : { error: err };
    const error = err instanceof CamelOciError ? err : new FetchError('IO_ERROR', String((err as Error)?.message ?? err), { cause: err });
    if (error.code === 'POLICY_DENIED') return { error: err };
    const failure: SourceFailure = { source: this.current, error };
    this.last.set(this.index, failure);
    this.round.push(this.index);
    if (isWrongBytes(error)) this.dropped.add(this.index);
    this.onFailure?.(failure);
    for (let i = this.index + 1; i < this.sources.length; i++) {
      if (!this.dropped.has(i)) {
        this.index = i;
        return { next: 'source' };
      }
    }
    const left = this.sources.map((_, i) => i).filter((i) => !this.dropped.has(i));
    const retry = this.round.some((i) => !this.dropped.has(i) && mayRetry(this.last.get(i)!.error));
    this.round = [];
    if (left.length > 0 && retry) {
      this.index = left[0]!;
      return { next: 'again' };
    }
    const failures = [...this.last.entries()].sort(([a], [b]) => a - b).map(([, f]) => f);
    return { error: everySourceFailed(failures, this.what) };
  }
}
