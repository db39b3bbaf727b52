/**
 * Pins: which digest each requested reference of a pod is admitted at. A pod created from a pinned
 * Integration carries the Integration's pins annotation (Camel K copies annotations onto pods), so
 * every replica runs the bytes pinned once; pods without pins of one owner share the digests the
 * first of them resolved. The matching is pure; {@link OwnerPins} is the process's memory.
 */
import { LruCache } from '../base/lru.js';
import { ANNOTATION_PINNED } from '../inject/annotations.js';
import { formatReference, parseReference } from '../oci/reference.js';

/** Bound on the pins annotation read: a few dozen references of at most 1 KiB each. */
export const MAX_PINS_CHARS = 128 * 1024;
/** Owners whose pins are remembered (least recently used first out). */
export const MAX_REMEMBERED_OWNERS = 4096;

/** The name and tag (or digest) a reference asks for, normalized, without a digest that pins it. */
function requestKey(reference: string): string | undefined {
  try {
    const ref = parseReference(reference.trim());
    // A digest the user wrote is the request itself; a tag defaults to latest, as the resolver treats it.
    if (ref.tag === undefined && ref.digest !== undefined) return formatReference(ref);
    return formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag ?? 'latest' });
  } catch {
    return undefined;
  }
}

/**
 * Reads a pins annotation: `name:tag@sha256:…` entries separated by commas (or white space),
 * each mapped from the request it answers (normalized name and tag) to its digest. Entries that
 * do not parse or carry no digest are ignored: a pod they do not cover resolves as before.
 */
export function parsePins(annotations: Readonly<Record<string, unknown>> | undefined): Map<string, string> {
  const pins = new Map<string, string>();
  const text = annotations?.[ANNOTATION_PINNED];
  if (typeof text !== 'string' || text.length > MAX_PINS_CHARS) return pins;
  for (const entry of text.split(/[\s,]+/)) {
    if (entry === '') continue;
    try {
      const ref = parseReference(entry);
      if (ref.digest === undefined) continue;
      const key = requestKey(entry.slice(0, entry.lastIndexOf('@')));
      if (key !== undefined) pins.set(key, ref.digest);
    } catch {
      // Not a reference: ignored, see above.
    }
  }
  return pins;
}

/**
 * The references to resolve for `requested`, each pinned to the digest `pins` gives for it
 * (`name:tag@digest`: the resolver fetches the manifest by digest and never asks for the tag), or
 * undefined when some reference has no pin.
 */
export function pinnedRequests(requested: readonly string[], pins: ReadonlyMap<string, string>): string[] | undefined {
  const out: string[] = [];
  for (const reference of requested) {
    const key = requestKey(reference);
    const digest = key === undefined ? undefined : pins.get(key);
    if (digest === undefined) return undefined;
    out.push(withDigest(reference, digest));
  }
  return out;
}

/** Each of `requested` pinned at the digest `pins` gives for it, or as it is where `pins` has none. */
export function pinEach(requested: readonly string[], pins: ReadonlyMap<string, string> | undefined): string[] {
  if (pins === undefined) return [...requested];
  return requested.map((reference) => {
    const key = requestKey(reference);
    const digest = key === undefined ? undefined : pins.get(key);
    return digest === undefined ? reference : withDigest(reference, digest);
  });
}

/** `reference` pinned at `digest` (a reference that names a digest already keeps its own). */
function withDigest(reference: string, digest: string): string {
  const bare = reference.trim().replace(/^container:/, '');
  return bare.includes('@') ? bare : `${bare}@${digest}`;
}

/** The uid of the pod's controlling owner (a ReplicaSet, Job...), else of its first owner, else undefined. */
export function ownerUid(pod: object): string | undefined {
  const refs = (pod as { metadata?: { ownerReferences?: unknown } }).metadata?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  const owners = refs.filter(
    (r): r is { uid: string; controller?: unknown } =>
      typeof r === 'object' && r !== null && typeof (r as { uid?: unknown }).uid === 'string',
  );
  const uid = (owners.find((r) => r.controller === true) ?? owners[0])?.uid;
  return uid !== undefined && uid.length > 0 && uid.length <= 128 ? uid : undefined;
}

/** What pods of one owner were admitted at, so later replicas get the same digests while the process lives. */
export class OwnerPins {
  private readonly owners = new LruCache<string, ReadonlyMap<string, string>>(MAX_REMEMBERED_OWNERS);

  /** The pins remembered for `owner`, keyed as {@link parsePins} keys them. */
  get(owner: string): ReadonlyMap<string, string> | undefined {
    return this.owners.get(owner);
  }

  /** Remembers the digest each of `references` was admitted at (in the same order as `digests`). */
  remember(owner: string, references: readonly string[], digests: readonly string[]): void {
    const pins = new Map(this.owners.get(owner) ?? []);
    references.forEach((reference, i) => {
      const key = requestKey(reference);
      const digest = digests[i];
      if (key !== undefined && digest !== undefined) pins.set(key, digest);
    });
    this.owners.set(owner, pins);
  }
}
