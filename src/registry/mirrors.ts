/**
 * Registry mirrors: the ordered sources of a repository (its mirrors, then the registry itself),
 * each under the same policy as a registry, and trying them in order. Written once for the
 * resolver and the fetcher. A mirror is untrusted: whatever it answers is verified by the caller
 * (the client hashes manifests, the fetcher blobs), and a source that answers wrong bytes fails
 * for that request only, the next one is tried. Credentials are matched per source host by the
 * caller, so the upstream's never reach a mirror and a mirror's never reach the upstream.
 */
import { CamelOciError, OciError } from '../base/errors.js';
import type { RepositoryLocation } from './client.js';
import type { RegistryPolicy } from './policy.js';
import { MAX_PLAN_MIRRORS } from '../plan/plan.js';

/** Mirrors by upstream host[:port], in the order they are tried (what `--registry-mirror` parses to). */
export type MirrorTable = ReadonlyMap<string, readonly string[]>;

/** Bound on the sources of one repository: a plan carries at most 8 mirrors, the fetcher may add its own. */
export const MAX_SOURCES = 17;

/** One place a repository's content may come from. */
export interface RegistrySource {
  /** Host[:port] contacted. */
  readonly registry: string;
  readonly scheme: 'https' | 'http';
  /** True for a mirror, false for the upstream the pinned reference names. */
  readonly mirror: boolean;
}

/** A mirror as a plan carries it. */
export interface MirrorEntry {
  readonly registry: string;
  readonly scheme: 'https' | 'http';
}

/**
 * The mirrors configured for a registry: those listed under the domain as the reference writes it
 * (`docker.io`), then those under the host contacted (`registry-1.docker.io`), without duplicates
 * and never the registry itself; at most as many as a plan carries (the first ones).
 */
export function configuredMirrors(table: MirrorTable | undefined, domain: string, endpoint: string): string[] {
  if (table === undefined || table.size === 0) return [];
  const out: string[] = [];
  const self = new Set([domain.toLowerCase(), endpoint.toLowerCase()]);
  for (const key of [domain.toLowerCase(), endpoint.toLowerCase()]) {
    for (const m of table.get(key) ?? []) if (!self.has(m) && !out.includes(m)) out.push(m);
  }
  return out.slice(0, MAX_PLAN_MIRRORS);
}

/**
 * Checks one mirror against the policy as a registry is checked: the allow-list (by the mirror's
 * own name), and plain HTTP only where `--insecure-registry` names it. Addresses are checked at
 * connect time, after DNS and on every redirect, by the transport. Throws POLICY_DENIED.
 */
export function mirrorSource(policy: RegistryPolicy, mirror: MirrorEntry | string, subject: string): RegistrySource {
  const registry = typeof mirror === 'string' ? mirror : mirror.registry;
  policy.checkRegistry(registry, registry, `${subject} (mirror ${registry})`);
  const allowed = policy.schemeFor(registry);
  const scheme = typeof mirror === 'string' ? allowed : mirror.scheme;
  if (scheme === 'http' && allowed !== 'http') {
    throw new OciError(
      'POLICY_DENIED',
      `${subject}: mirror ${registry} is asked for over plain HTTP, but it is not listed with --insecure-registry (CAMEL_OCI_INSECURE_REGISTRY)`,
      { context: { registry } },
    );
  }
  return { registry, scheme, mirror: true };
}

/**
 * Refuses, at start-up, a `--registry-mirror` table with a mirror the allow-list refuses: every
 * resolution through it would fail (CONFIG_INVALID naming the mirror and the flag).
 */
export function checkMirrorTable(policy: RegistryPolicy, table: MirrorTable | undefined): void {
  for (const [upstream, mirrors] of table ?? []) {
    for (const mirror of mirrors) {
      try {
        policy.checkRegistry(mirror, mirror, `--registry-mirror ${upstream}=${mirror}`);
      } catch (err) {
        if (!(err instanceof CamelOciError) || err.code !== 'POLICY_DENIED') throw err;
        throw new OciError(
          'CONFIG_INVALID',
          `--registry-mirror ${upstream}=${mirror}: the mirror is not allowed by --allow-registry; list it there too`,
          {
            context: { registry: mirror },
          },
        );
      }
    }
  }
}

/**
 * The ordered sources of a repository: `mirrors` (policy-checked, duplicates dropped, the upstream
 * itself dropped), then the upstream. The upstream is checked by the caller as before.
 */
export function sourcesOf(
  policy: RegistryPolicy,
  upstream: { readonly registry: string; readonly scheme: 'https' | 'http' },
  mirrors: readonly (MirrorEntry | string)[],
  subject: string,
): RegistrySource[] {
  const out: RegistrySource[] = [];
  for (const m of mirrors) {
    const name = typeof m === 'string' ? m : m.registry;
    if (name === upstream.registry || out.some((s) => s.registry === name)) continue;
    if (out.length + 1 >= MAX_SOURCES) break;
    out.push(mirrorSource(policy, m, subject));
  }
  out.push({ registry: upstream.registry, scheme: upstream.scheme, mirror: false });
  return out;
}

/** The repository location of a source. */
export function locationOf(source: RegistrySource, repository: string): RepositoryLocation {
  return { registry: source.registry, repository, scheme: source.scheme };
}

/** How a source is named in messages and logs. */
export function describeSource(source: RegistrySource): string {
  return `${source.mirror ? 'mirror' : 'registry'} ${source.registry}`;
}

/** One source's failure. */
export interface SourceFailure {
  readonly source: RegistrySource;
  readonly error: CamelOciError;
}

/** Options of {@link trySources}. */
export interface TrySourcesOptions {
  /** The caller's deadline: once aborted, no further source is tried. */
  readonly signal: AbortSignal;
  /** What is being read, for the combined error (`manifest sha256:… of container:x`). */
  readonly what: string;
  /** Called for every source that failed while another was still to be tried (logs, metrics). */
  readonly onFailure?: (failure: SourceFailure) => void;
}

/** True for an error that says the source served other bytes than the digest names. */
export function isWrongBytes(err: CamelOciError): boolean {
  return err.code === 'DIGEST_MISMATCH' || (err.code === 'SIZE_EXCEEDED' && err.context.expectedSize !== undefined);
}

function asError(err: unknown): CamelOciError {
  return err instanceof CamelOciError ? err : new OciError('INTERNAL', String((err as Error)?.message ?? err), { cause: err });
}

/** Longest part of one source's message kept in a combined error. */
const MAX_FAILURE_CHARS = 300;

/**
 * The error when every source failed: a wrong-bytes failure first (a mirror serving other content
 * is what an operator must see), else the last source's (the upstream's). The message names every
 * source and what it answered; the code and retryability are the chosen failure's.
 */
export function everySourceFailed(failures: readonly SourceFailure[], what: string): CamelOciError {
  const chosen = failures.find((f) => isWrongBytes(f.error)) ?? failures[failures.length - 1]!;
  if (failures.length === 1) return chosen.error;
  const parts = failures.map((f) => {
    const text = f.error.message.length > MAX_FAILURE_CHARS ? `${f.error.message.slice(0, MAX_FAILURE_CHARS)}…` : f.error.message;
    return `${describeSource(f.source)}: ${f.error.code}: ${text}`;
  });
  return new OciError(chosen.error.code, `every source of ${what} failed (${parts.join('; ')})`, {
    retryable: chosen.error.retryable,
    context: { ...chosen.error.context, host: chosen.source.registry },
    cause: chosen.error,
  });
}

/**
 * Runs `attempt` against each source in order and returns the first answer, with the source that
 * gave it. A source that fails (down, not found, unauthorized, wrong bytes) hands over to the next;
 * a policy refusal stops at once (a mirror the policy refuses is a configuration error, not an
 * outage), as does the caller's deadline. With one source its error is thrown unchanged.
 */
export async function trySources<T>(
  sources: readonly RegistrySource[],
  attempt: (source: RegistrySource) => Promise<T>,
  options: TrySourcesOptions,
): Promise<{ value: T; source: RegistrySource }> {
  const failures: SourceFailure[] = [];
  for (const [i, source] of sources.entries()) {
    try {
      return { value: await attempt(source), source };
    } catch (err) {
      const error = asError(err);
      if (error.code === 'POLICY_DENIED' || options.signal.aborted) throw error;
      failures.push({ source, error });
      if (i + 1 < sources.length) options.onFailure?.({ source, error });
    }
  }
  throw everySourceFailed(failures, options.what);
}
