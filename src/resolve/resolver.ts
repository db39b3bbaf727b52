/**
 * The Resolver: a `container:` reference in, a pinned manifest and its selected layers out.
 * Holds the policy checks, the caches (tag → digest with a TTL and stale-if-error grace, digest →
 * manifest forever within a bounded LRU) and single-flight, over the registry client.
 */
import { createHash } from 'node:crypto';
import { raceSignal } from '../base/abort.js';
import { CamelOciError, ResolveError } from '../base/errors.js';
import { withReference, type ResolvedArtifact } from '../plan/artifact.js';
import type { RegistryClient, RepositoryLocation } from '../registry/client.js';
import { credentialFor } from '../oci/docker-config.js';
import { DEFAULT_PLATFORM } from '../oci/manifest.js';
import type { Credential, DockerConfig } from '../oci/docker-config.js';
import { manifestImageFields, selectLayers } from '../plan/layers.js';
import { parseManifest, selectPlatform } from '../oci/manifest.js';
import type { ImageManifest } from '../oci/manifest.js';
import { formatReference, parseReference, registryEndpoint } from '../oci/reference.js';
import { LruCache, TagCache } from './cache.js';
import type { RegistryPolicy } from '../registry/policy.js';
import { configuredMirrors, locationOf, sourcesOf, trySources } from '../registry/mirrors.js';
import type { MirrorTable, RegistrySource, SourceFailure } from '../registry/mirrors.js';
import { SingleFlight } from '../base/single-flight.js';
import type { ArtifactResolver, ResolveRequest } from './types.js';

/** Cache outcome, reported for metrics. */
export type CacheResult = 'hit' | 'miss' | 'stale';

/** Resolver settings. */
export interface ResolverOptions {
  readonly client: RegistryClient;
  readonly policy: RegistryPolicy;
  /** The resolver's own credentials (`--registry-config`), tried after a pod's pull secrets. */
  readonly dockerConfigs?: readonly DockerConfig[];
  /** Default platform for indexes. */
  readonly platform?: string;
  /** How long a tag's digest is reused without asking the registry. */
  readonly tagTtlMs?: number;
  /** How long a tag's last digest may stand in when the registry fails (stale-if-error). */
  readonly staleGraceMs?: number;
  /** Bound on cached manifests (digest → manifest) and tags. */
  readonly maxCachedManifests?: number;
  /** Upper bound on one shared resolution, whatever the callers' deadlines. */
  readonly flightTimeoutMs?: number;
  readonly now?: () => number;
  readonly onCache?: (cache: 'tag' | 'manifest', result: CacheResult) => void;
  /** `--registry-mirror`: mirrors by upstream host[:port], tried in order before it for tags and manifests. */
  readonly mirrors?: MirrorTable;
  /** Called when a source failed and the next was tried (a mirror down, or serving wrong bytes). */
  readonly onSourceFailure?: (failure: SourceFailure, subject: string) => void;
}

/** Defaults (the platform is the index selection's own). */
export { DEFAULT_PLATFORM };
export const DEFAULT_TAG_TTL_MS = 60_000;
export const DEFAULT_STALE_GRACE_MS = 10 * 60_000;
export const DEFAULT_MAX_CACHED_MANIFESTS = 1_000;
export const DEFAULT_FLIGHT_TIMEOUT_MS = 30_000;

/** Registry failures for which a recently resolved digest may stand in. Not-found and denied are answers, not failures. */
const STALE_OK = new Set(['UNAVAILABLE', 'TIMEOUT', 'TOOMANYREQUESTS', 'REGISTRY_ERROR', 'TLS_ERROR']);
/**
 * HEAD failures that say "this registry's HEAD is no use" (no digest header, a 405, a 5xx only
 * HEAD gets) rather than "the registry is down" or "the tag is gone": the tag is then GET as before.
 */
const HEAD_FALLBACK = new Set(['REGISTRY_ERROR', 'UNSUPPORTED', 'MANIFEST_INVALID']);

type Node =
  | { kind: 'manifest'; manifest: ImageManifest; mediaType: string }
  | { kind: 'index'; index: import('../oci/manifest.js').ImageIndex; mediaType: string };

/** A manifest as cached: the parsed node and the mirror that served it (undefined: the upstream). */
interface CachedNode {
  readonly node: Node;
  readonly mirror: string | undefined;
}

/** The sources of one resolution, each with its own credential, and the call's deadline. */
interface Sources {
  readonly list: readonly RegistrySource[];
  readonly credentials: readonly (Credential | undefined)[];
  readonly repository: string;
  readonly signal: AbortSignal;
  readonly deadline: number;
}

/** What answered: a node and the mirror it came from (undefined: the upstream). */
interface Answer {
  readonly node: Node;
  readonly mirror: string | undefined;
}

/** The production ArtifactResolver. */
export class Resolver implements ArtifactResolver {
  private readonly tags: TagCache;
  private readonly manifests: LruCache<string, CachedNode>;
  /** Finished artifacts by the digest the reference resolves to (index or manifest) and platform. */
  private readonly artifacts: LruCache<string, ResolvedArtifact>;
  private readonly flights = new SingleFlight<ResolvedArtifact>();
  /** Prepared references by the string the caller passed (see `prepare`). */
  private readonly prepared: LruCache<string, Prepared>;
  private readonly now: () => number;

  constructor(private readonly options: ResolverOptions) {
    this.now = options.now ?? Date.now;
    const max = options.maxCachedManifests ?? DEFAULT_MAX_CACHED_MANIFESTS;
    this.tags = new TagCache(options.tagTtlMs ?? DEFAULT_TAG_TTL_MS, options.staleGraceMs ?? DEFAULT_STALE_GRACE_MS, max, this.now);
    this.manifests = new LruCache(max);
    this.artifacts = new LruCache(max);
    this.prepared = new LruCache(max);
  }

  /** Resolves one reference; concurrent calls for the same reference share one registry round-trip. */
  async resolve(reference: string, request: ResolveRequest = {}): Promise<ResolvedArtifact> {
    const prepared = this.prepare(reference);
    const { written, ref, location, subject, sources } = prepared;
    const { auths, cid, tagKeys } = this.credentialsFor(prepared, request);
    const platform = this.platformOf(request);
    // Warm path, no timers and no flight: a fresh tag (or a digest) whose artifact is cached.
    const tagOrDigest = prepared.tagOrDigest;
    const refresh = request.refreshTags === true;
    const digest = ref.digest ?? (refresh ? undefined : this.tags.fresh(tagKeys.tag)?.digest);
    if (digest !== undefined) {
      const warm = this.artifacts.get(tagKeys.artifact(digest, platform));
      if (warm) {
        this.options.onCache?.('tag', 'hit');
        return withReference(warm, written);
      }
    }
    // A refresh never joins a flight that may answer from the tag cache.
    const key = JSON.stringify([formatReference(ref), platform, cid, refresh]);
    const flight = this.flights.do(key, () =>
      this.resolveShared(written, ref.domain, location, tagOrDigest, platform, { sources, auths, cid }, subject, refresh),
    );
    if (!request.signal) return flight;
    return raceSignal(flight, request.signal, (signal) =>
      signal.reason instanceof CamelOciError
        ? signal.reason
        : new ResolveError('TIMEOUT', `${subject}: resolution did not finish before the deadline`, { retryable: true }),
    );
  }

  /** The artifact a tag named within the stale grace, from the caches alone, marked stale (ArtifactResolver). */
  staleArtifact(reference: string, request: ResolveRequest = {}): ResolvedArtifact | undefined {
    let prepared: Prepared;
    try {
      prepared = this.prepare(reference);
    } catch {
      return undefined; // refused or malformed: resolve() says why
    }
    if (prepared.ref.digest !== undefined) return undefined; // a digest never goes stale
    const { tagKeys } = this.credentialsFor(prepared, request);
    const old = this.tags.stale(tagKeys.tag);
    if (old === undefined) return undefined;
    const cached = this.artifacts.get(tagKeys.artifact(old.digest, this.platformOf(request)));
    if (cached === undefined) return undefined;
    this.options.onCache?.('tag', 'stale');
    return Object.freeze({ ...cached, reference: prepared.written, stale: true });
  }

  /** The credentials and cache keys of a request: without pull secrets the resolver's own, matched once per reference. */
  private credentialsFor(prepared: Prepared, request: ResolveRequest): Credentials {
    const pullSecrets = request.pullSecrets ?? [];
    return pullSecrets.length === 0 ? prepared.own : this.credentials(prepared, pullSecrets);
  }

  /** The platform a request picks from an index. */
  private platformOf(request: ResolveRequest): string {
    return request.platform ?? this.options.platform ?? DEFAULT_PLATFORM;
  }

  /**
   * What a reference string gives whatever the request: parsed, checked against the policy (a
   * refused one throws and is not kept), its location, sources and subject, and the resolver's own
   * credentials for each source with their id and cache keys. A pure function of the reference and
   * this resolver's options (fixed at construction), so it is kept per reference string: a warm
   * admission asks the same few references over and over.
   */
  private prepare(reference: string): Prepared {
    const known = this.prepared.get(reference);
    if (known !== undefined) return known;
    const written = reference.trim().replace(/^container:/, '');
    const ref = parseReference(written);
    const endpoint = registryEndpoint(ref);
    const subject = `container:${written}`;
    this.options.policy.checkRegistry(ref.domain, endpoint, subject);
    const location: RepositoryLocation = { registry: endpoint, repository: ref.path, scheme: this.options.policy.schemeFor(endpoint) };
    // Mirrors first, then the upstream; each source with the credential matched by its own host,
    // so the upstream's credential never reaches a mirror, nor a mirror's the upstream.
    const mirrors = configuredMirrors(this.options.mirrors, ref.domain, endpoint);
    const sources = sourcesOf(this.options.policy, location, mirrors, subject);
    const base = { written, ref, endpoint, subject, location, sources, tagOrDigest: ref.digest ?? ref.tag ?? 'latest' };
    const prepared: Prepared = { ...base, own: this.credentials(base, []) };
    this.prepared.set(reference, prepared);
    return prepared;
  }

  /**
   * The credential of each source of a prepared reference (the pod's pull secrets first, then the
   * resolver's own), their id, and the tag and artifact cache keys under that id.
   */
  private credentials(p: Omit<Prepared, 'own'>, pullSecrets: readonly DockerConfig[]): Credentials {
    const auths = p.sources.map((s) => this.credential(s.mirror ? s.registry : p.ref.domain, p.ref.path, pullSecrets));
    const upstreamAuth = auths[auths.length - 1]!;
    // Tags and finished artifacts are cached per credential: what one pod's pull secret can see is
    // not handed to a pod without it (manifests by digest stay shared: a digest is proof enough).
    const cid =
      auths.length === 1
        ? credentialId(upstreamAuth.credential)
        : createHash('sha256')
            .update(auths.map((a) => credentialId(a.credential)).join(','))
            .digest('hex')
            .slice(0, 16);
    return { auths, cid, tagKeys: new CacheKeys(p.location, p.tagOrDigest, cid) };
  }

  /**
   * The credential for a repository: the pod's pull secrets first (they are what the fetcher will
   * have), then the resolver's own `--registry-config`.
   */
  private credential(
    domain: string,
    repository: string,
    pullSecrets: readonly DockerConfig[],
  ): { credential?: Credential; source?: 'pod' | 'webhook' } {
    // The caller bounds the list (kube/pull-secrets.ts reads at most MAX_POD_PULL_SECRETS).
    const fromPod = credentialFor(pullSecrets, domain, repository);
    if (fromPod) return { credential: fromPod, source: 'pod' };
    const own = credentialFor(this.options.dockerConfigs ?? [], domain, repository);
    return own ? { credential: own, source: 'webhook' } : {};
  }

  private async resolveShared(
    written: string,
    domain: string,
    loc: RepositoryLocation,
    tagOrDigest: string,
    platform: string,
    auth: {
      sources: readonly RegistrySource[];
      auths: readonly { credential?: Credential; source?: 'pod' | 'webhook' }[];
      cid: string;
    },
    subject: string,
    refresh = false,
  ): Promise<ResolvedArtifact> {
    const controller = new AbortController();
    const timeout = this.options.flightTimeoutMs ?? DEFAULT_FLIGHT_TIMEOUT_MS;
    const timer = setTimeout(
      () =>
        controller.abort(
          new ResolveError('TIMEOUT', `${subject}: the registry did not answer within ${Math.round(timeout / 1000)} s`, {
            retryable: true,
          }),
        ),
      timeout,
    );
    timer.unref();
    const ctx: Sources = {
      list: auth.sources,
      credentials: auth.auths.map((a) => a.credential),
      repository: loc.repository,
      signal: controller.signal,
      deadline: this.now() + timeout,
    };
    try {
      let digest: string;
      let stale = false;
      let node: Node;
      // The mirror that answered the request that pinned the digest (undefined: the upstream).
      let mirror: string | undefined;
      if (tagOrDigest.includes(':')) {
        digest = tagOrDigest;
        ({ node, mirror } = await this.byDigest(loc, digest, ctx, subject));
      } else {
        const tagKey = tagKeyOf(loc, tagOrDigest, auth.cid);
        const fresh = refresh ? undefined : this.tags.fresh(tagKey);
        this.options.onCache?.('tag', fresh ? 'hit' : 'miss');
        if (fresh) {
          digest = fresh.digest;
          ({ node, mirror } = await this.byDigest(loc, digest, ctx, subject));
        } else {
          try {
            ({ digest, node, mirror } = await this.byTag(loc, tagOrDigest, tagKey, ctx, subject));
          } catch (err) {
            const old = this.tags.stale(tagKey);
            if (!old || !(err instanceof CamelOciError) || !STALE_OK.has(err.code)) throw err;
            this.options.onCache?.('tag', 'stale');
            stale = true;
            digest = old.digest;
            ({ node, mirror } = await this.byDigest(loc, digest, ctx, subject));
          }
        }
      }
      let indexDigest: string | undefined;
      let chosenPlatform: string | undefined;
      if (node.kind === 'index') {
        indexDigest = digest;
        const child = selectPlatform(node.index, platform);
        chosenPlatform = child.platform
          ? [child.platform.os, child.platform.architecture, child.platform.variant].filter(Boolean).join('/')
          : undefined;
        digest = child.digest;
        node = (await this.byDigest(loc, digest, ctx, subject)).node;
        if (node.kind !== 'manifest') {
          throw new ResolveError(
            'MANIFEST_INVALID',
            `${subject}: index ${indexDigest} points at another index for ${platform}; nested indexes are not supported`,
          );
        }
      }
      const { layers, ignored } = selectLayers(node.manifest);
      if (layers.length === 0) {
        const why = ignored.length === 0 ? 'it has no layers' : ignored.map((l) => `${l.digest.slice(0, 19)}: ${l.reason}`).join('; ');
        throw new ResolveError(
          'NO_USABLE_LAYERS',
          `${subject}: ${domain}/${loc.repository}@${digest} has no layer annotated camel.apache.org.dependency or camel.apache.org.kamelets.repository and no .jar title (${why})`,
          {
            context: { digest },
          },
        );
      }
      // Frozen: cached and handed to many admissions; the answer memo keys on its fields by identity.
      const artifact: ResolvedArtifact = Object.freeze({
        reference: written,
        domain,
        registry: loc.registry,
        repository: loc.repository,
        scheme: loc.scheme,
        ...(mirrorsOf(auth.sources).length > 0 ? { mirrors: mirrorsOf(auth.sources) } : {}),
        ...(mirror !== undefined ? { source: mirror } : {}),
        digest,
        mediaType: node.mediaType,
        ...(indexDigest !== undefined ? { indexDigest } : {}),
        ...(chosenPlatform !== undefined ? { platform: chosenPlatform } : {}),
        layers,
        ignored,
        ...manifestImageFields(node.manifest),
        ...(stale ? { stale: true } : {}),
        ...(answeredAuth(auth, mirror)?.source !== undefined ? { credentials: answeredAuth(auth, mirror)!.source! } : {}),
      });
      if (!stale) this.artifacts.set(artifactKey(loc, indexDigest ?? digest, platform, auth.cid), artifact);
      return artifact;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Asks the sources where a tag points now, mirrors first (an air-gapped cluster has no upstream;
   * a mirror's answer for a tag is trusted as it gives it, its bytes are still hashed). When the
   * tag was resolved before and that manifest is still cached, a HEAD answers it: it does not count
   * against Docker Hub's pull limit, and the manifest is fetched (by digest, so its bytes are hashed
   * and checked) only when the tag moved. A first resolution is one GET by tag, as a HEAD would only
   * add a round trip. A HEAD that a source cannot answer usefully falls back to a GET at that source;
   * other failures hand over to the next source, and when all failed, to the caller's stale-if-error
   * handling, as a failed GET would.
   */
  private async byTag(
    loc: RepositoryLocation,
    tag: string,
    tagKey: string,
    ctx: Sources,
    subject: string,
  ): Promise<{ digest: string; node: Node; mirror: string | undefined }> {
    const last = this.tags.last(tagKey);
    const canHead = last !== undefined && this.manifests.get(manifestKey(loc, last.digest)) !== undefined;
    const { value, source } = await trySources(
      ctx.list,
      async (s) => {
        const call = callOf(ctx, s);
        if (canHead) {
          try {
            return { moved: (await this.options.client.head(locationOf(s, ctx.repository), tag, call, subject)).digest };
          } catch (err) {
            if (!(err instanceof CamelOciError) || !HEAD_FALLBACK.has(err.code)) throw err;
          }
        }
        return { fetched: await this.options.client.manifest(locationOf(s, ctx.repository), tag, call, subject) };
      },
      this.tryOptions(ctx, `tag ${tag} of ${subject}`, subject),
    );
    const mirror = source.mirror ? source.registry : undefined;
    const moved = value.moved;
    if (moved !== undefined) {
      const node = (await this.byDigest(loc, moved, ctx, subject)).node;
      this.tags.set(tagKey, moved);
      return { digest: moved, node, mirror };
    }
    const fetched = value.fetched!;
    const node = parseManifest(fetched.bytes, fetched.contentType) as Node;
    this.manifests.set(manifestKey(loc, fetched.digest), { node, mirror });
    this.tags.set(tagKey, fetched.digest);
    return { digest: fetched.digest, node, mirror };
  }

  /**
   * A manifest by digest: from the cache, else from the first source that answers bytes whose
   * sha256 is the digest (the client checks it; a source answering other bytes fails, and the next
   * is tried).
   */
  private async byDigest(loc: RepositoryLocation, digest: string, ctx: Sources, subject: string): Promise<Answer> {
    const key = manifestKey(loc, digest);
    const cached = this.manifests.get(key);
    this.options.onCache?.('manifest', cached ? 'hit' : 'miss');
    if (cached) return cached;
    const { value: fetched, source } = await trySources(
      ctx.list,
      (s) => this.options.client.manifest(locationOf(s, ctx.repository), digest, callOf(ctx, s), subject),
      this.tryOptions(ctx, `manifest ${digest} of ${subject}`, subject),
    );
    const answer: Answer = {
      node: parseManifest(fetched.bytes, fetched.contentType) as Node,
      mirror: source.mirror ? source.registry : undefined,
    };
    this.manifests.set(key, answer);
    return answer;
  }

  private tryOptions(ctx: Sources, what: string, subject: string): Parameters<typeof trySources>[2] {
    const onFailure = this.options.onSourceFailure;
    return { signal: ctx.signal, what, ...(onFailure ? { onFailure: (f: SourceFailure) => onFailure(f, subject) } : {}) };
  }
}

/** A reference string as `prepare` keeps it. */
interface Prepared {
  /** The reference without white space and `container:`, as the artifact names it. */
  readonly written: string;
  readonly ref: ReturnType<typeof parseReference>;
  readonly endpoint: string;
  readonly subject: string;
  readonly location: RepositoryLocation;
  readonly sources: readonly RegistrySource[];
  readonly tagOrDigest: string;
  /** The credentials when the pod gives no pull secret: the resolver's own only. */
  readonly own: Credentials;
}

/** The credential of each source of one resolution, their id, and the cache keys under it. */
interface Credentials {
  readonly auths: readonly { credential?: Credential; source?: 'pod' | 'webhook' }[];
  readonly cid: string;
  readonly tagKeys: CacheKeys;
}

/**
 * The tag and artifact cache keys of one reference under one credential id, built once: the warm
 * path looks them up on every admission, and a string built afresh is hashed afresh by the map.
 */
class CacheKeys {
  readonly tag: string;
  private last: { digest: string; platform: string; key: string } | undefined;

  constructor(
    private readonly loc: RepositoryLocation,
    tagOrDigest: string,
    private readonly cid: string,
  ) {
    this.tag = tagKeyOf(loc, tagOrDigest, cid);
  }

  /** The artifact key of `digest` for `platform` (the last one asked is kept). */
  artifact(digest: string, platform: string): string {
    const last = this.last;
    if (last !== undefined && last.digest === digest && last.platform === platform) return last.key;
    const key = artifactKey(this.loc, digest, platform, this.cid);
    this.last = { digest, platform, key };
    return key;
  }
}

/** The per-call context for one source: the shared deadline and that source's own credential. */
function callOf(ctx: Sources, source: RegistrySource): { signal: AbortSignal; deadline: number; credential?: Credential } {
  const credential = ctx.credentials[ctx.list.indexOf(source)];
  return { signal: ctx.signal, deadline: ctx.deadline, ...(credential ? { credential } : {}) };
}

/** The mirrors of a source list, as the plan carries them. */
function mirrorsOf(sources: readonly RegistrySource[]): { registry: string; scheme: 'https' | 'http' }[] {
  return sources.filter((s) => s.mirror).map((s) => ({ registry: s.registry, scheme: s.scheme }));
}

/** Whose credential the answering source used (the upstream's when no mirror answered). */
function answeredAuth(
  auth: { sources: readonly RegistrySource[]; auths: readonly { source?: 'pod' | 'webhook' }[] },
  mirror: string | undefined,
): { source?: 'pod' | 'webhook' } | undefined {
  const i = mirror === undefined ? auth.sources.length - 1 : auth.sources.findIndex((s) => s.mirror && s.registry === mirror);
  return auth.auths[i];
}

function manifestKey(loc: RepositoryLocation, digest: string): string {
  return `${loc.registry}/${loc.repository}@${digest}`;
}

function artifactKey(loc: RepositoryLocation, digest: string, platform: string, cid: string): string {
  return `${loc.registry}/${loc.repository}@${digest}#${platform}#${cid}`;
}

function tagKeyOf(loc: RepositoryLocation, tag: string, cid: string): string {
  return `${loc.registry}/${loc.repository}:${tag}#${cid}`;
}

function credentialId(credential: Credential | undefined): string {
  if (!credential) return '';
  const material = credential.kind === 'basic' ? `${credential.username}:${credential.password}` : credential.token;
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}
