/**
 * What `camel-oci audit` reads from the annotations camel-oci and its users write: the pins an
 * Integration or Pipe carries, and the resolved record of an injected pod. Both are parsed strictly
 * and with bounds, because they come from objects anyone with write access to a namespace can
 * edit. Pure.
 */
import { CamelOciError } from '../base/errors.js';
import { isSha256Digest } from '../oci/digest.js';
import { formatReference, parseReference, referenceName } from '../oci/reference.js';
import { ANNOTATION_PINNED } from '../inject/annotations.js';
import { MAX_REFERENCE_CHARS, MAX_REFERENCES, REFERENCE_PREFIX } from '../inject/decide.js';
import { MAX_IGNORED_RECORDED, type ResolvedRecord } from '../inject/resolved.js';
import { MAX_PLAN_LAYERS } from '../plan/plan.js';
import { isRecord } from '../base/json.js';

/** Longest pins annotation read: 32 references of at most 1024 characters plus their digests. */
export const MAX_PINNED_CHARS = MAX_REFERENCES * (MAX_REFERENCE_CHARS + 80);
/**
 * Longest resolved annotation read. The webhook keeps all of a pod's annotations under the
 * apiserver's 256 KiB budget, so a longer value was not written by camel-oci.
 */
export const MAX_RESOLVED_CHARS = 256 * 1024;
/** Most records in one resolved annotation: one per reference, and a pod asks for at most 32. */
export const MAX_RESOLVED_RECORDS = MAX_REFERENCES;
/** Longest media type, platform or ignore reason kept (RFC 6838 caps media types at 127 + 127). */
const MAX_SHORT_TEXT = 256;
/** Longest mirror host[:port] kept: a DNS name (253) and a port. */
const MAX_SOURCE_CHARS = 260;

/** One entry of the pins annotation. */
export interface Pin {
  /** The reference as requested, without the digest (`docker.io/acme/deps:1.0`). */
  readonly reference: string;
  /** The digest the reference was pinned to. */
  readonly digest: string;
}

function invalid(message: string): CamelOciError {
  return new CamelOciError('ANNOTATION_INVALID', message);
}

/** The first `max` characters of a value, for messages (annotations may hold anything). */
export function preview(value: string, max = 80): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

/**
 * Parses the pins annotation (`camel.apache.org/container-dependencies.pinned`): `REF@sha256:<64 hex>`
 * entries separated by commas or white space (as the webhook reads it), in order; a `container:`
 * prefix is tolerated. Unlike the webhook, which ignores an entry it cannot use (that pod resolves
 * as before), the audit refuses the whole value, so that it is reported. Throws CamelOciError
 * `ANNOTATION_INVALID` when the value is too long, has too many entries, or an entry lacks a sha256 digest.
 */
export function parsePins(value: string): Pin[] {
  if (value.length > MAX_PINNED_CHARS)
    throw invalid(`annotation ${ANNOTATION_PINNED} is ${value.length} characters long, at most ${MAX_PINNED_CHARS} are read`);
  const out: Pin[] = [];
  for (const raw of value.split(/[\s,]+/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (out.length === MAX_REFERENCES) throw invalid(`annotation ${ANNOTATION_PINNED} lists more than ${MAX_REFERENCES} pins`);
    const bare = entry.startsWith(REFERENCE_PREFIX) ? entry.slice(REFERENCE_PREFIX.length) : entry;
    const at = bare.lastIndexOf('@');
    const digest = at === -1 ? '' : bare.slice(at + 1);
    if (at <= 0 || !isSha256Digest(digest)) {
      throw invalid(`annotation ${ANNOTATION_PINNED}: entry ${preview(entry)} is not REF@sha256:<64 hex>`);
    }
    out.push({ reference: bare.slice(0, at), digest });
  }
  return out;
}

/**
 * The key under which a reference, a pin and a resolved record of the same request meet:
 * Docker-normalized (`acme/deps:1` and `docker.io/acme/deps:1` are one), the tag kept and the digest
 * dropped when there is a tag, `:latest` added when there is neither. A reference that does not
 * parse keys as written, so it still meets itself.
 */
export function referenceKey(reference: string): string {
  const bare = reference.startsWith(REFERENCE_PREFIX) ? reference.slice(REFERENCE_PREFIX.length) : reference;
  try {
    const ref = parseReference(bare);
    if (ref.tag !== undefined) return `${referenceName(ref)}:${ref.tag}`;
    if (ref.digest !== undefined) return formatReference(ref);
    return `${referenceName(ref)}:latest`;
  } catch {
    return bare;
  }
}

/** The key of a pin: that of its reference, or of the whole pin when the request named only a digest. */
export function pinKey(pin: Pin): string {
  const key = referenceKey(pin.reference);
  try {
    const ref = parseReference(pin.reference);
    if (ref.tag === undefined && ref.digest === undefined) return referenceKey(`${pin.reference}@${pin.digest}`);
  } catch {
    // keyed as written
  }
  return key;
}

/** True for a tagged reference without a digest: the only kind a tag check can move. */
export function isTagReference(reference: string): boolean {
  try {
    const ref = parseReference(reference);
    return ref.digest === undefined;
  } catch {
    return false;
  }
}

function text(o: Record<string, unknown>, key: string, i: number, max: number, optional: boolean): string | undefined {
  const v = Object.hasOwn(o, key) ? o[key] : undefined;
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v === '' || v.length > max) {
    throw invalid(`record ${i}: "${key}" must be a non-empty string of at most ${max} characters`);
  }
  return v;
}

function digestField(o: Record<string, unknown>, key: string, i: number, optional: boolean): string | undefined {
  const v = Object.hasOwn(o, key) ? o[key] : undefined;
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || !isSha256Digest(v)) throw invalid(`record ${i}: "${key}" must be sha256:<64 lowercase hex>`);
  return v;
}

/** The digest of a record's `pinned` (`domain/repository@sha256:…`). */
export function pinnedDigest(pinned: string): string {
  return pinned.slice(pinned.lastIndexOf('@') + 1);
}

/**
 * Parses a pod's resolved annotation (what the webhook writes with its init container): a JSON
 * array of records `{ref, pinned, mediaType, layers, ignored?, index?, platform?, source?, stale?, mode?, fallback?}`. Every
 * known field is checked (types, lengths, sha256 digests, `pinned` ending in `@sha256:…`); fields a
 * newer webhook may add are ignored, so an older audit still reads its pods. Throws CamelOciError
 * `ANNOTATION_INVALID` with what is wrong.
 */
export function parseResolvedAnnotation(value: string): ResolvedRecord[] {
  if (value.length > MAX_RESOLVED_CHARS)
    throw invalid(`the value is ${value.length} characters long, at most ${MAX_RESOLVED_CHARS} are read`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalid(`the value is not JSON: ${preview(value, 40)}`);
  }
  if (!Array.isArray(parsed)) throw invalid('the value must be a JSON array of records');
  if (parsed.length > MAX_RESOLVED_RECORDS)
    throw invalid(`the value has ${parsed.length} records, at most ${MAX_RESOLVED_RECORDS} are read`);
  return parsed.map((o, i): ResolvedRecord => {
    if (!isRecord(o)) throw invalid(`record ${i} is not an object`);
    const ref = text(o, 'ref', i, MAX_REFERENCE_CHARS, false) as string;
    const pinned = text(o, 'pinned', i, MAX_REFERENCE_CHARS + 80, false) as string;
    if (pinned.lastIndexOf('@') <= 0 || !isSha256Digest(pinnedDigest(pinned)))
      throw invalid(`record ${i}: "pinned" must be REPOSITORY@sha256:<64 lowercase hex>`);
    const mediaType = text(o, 'mediaType', i, MAX_SHORT_TEXT, false) as string;
    const layersRaw = Object.hasOwn(o, 'layers') ? o.layers : undefined;
    if (!Array.isArray(layersRaw) || layersRaw.length > MAX_PLAN_LAYERS)
      throw invalid(`record ${i}: "layers" must be an array of at most ${MAX_PLAN_LAYERS} digests`);
    const layers = layersRaw.map((l) => {
      if (typeof l !== 'string' || !isSha256Digest(l)) throw invalid(`record ${i}: every layer must be sha256:<64 lowercase hex>`);
      return l;
    });
    let ignored: { digest: string; reason: string }[] | undefined;
    if (Object.hasOwn(o, 'ignored')) {
      if (!Array.isArray(o.ignored) || o.ignored.length > MAX_IGNORED_RECORDED)
        throw invalid(`record ${i}: "ignored" must be an array of at most ${MAX_IGNORED_RECORDED} entries`);
      ignored = o.ignored.map((g) => {
        if (!isRecord(g)) throw invalid(`record ${i}: every "ignored" entry must be an object`);
        return { digest: digestField(g, 'digest', i, false) as string, reason: text(g, 'reason', i, MAX_SHORT_TEXT, false) as string };
      });
    }
    const index = digestField(o, 'index', i, true);
    const platform = text(o, 'platform', i, MAX_SHORT_TEXT, true);
    const source = text(o, 'source', i, MAX_SOURCE_CHARS, true);
    if (Object.hasOwn(o, 'stale') && o.stale !== true) throw invalid(`record ${i}: "stale" is true when present`);
    const mode = Object.hasOwn(o, 'mode') ? o.mode : undefined;
    if (mode !== undefined && mode !== 'image-volume' && mode !== 'fetch')
      throw invalid(`record ${i}: "mode" is "image-volume" or "fetch" when present`);
    const fallback = text(o, 'fallback', i, MAX_SHORT_TEXT, true);
    if (fallback !== undefined && mode !== 'fetch') throw invalid(`record ${i}: "fallback" goes only with "mode": "fetch"`);
    return {
      ref,
      pinned,
      mediaType,
      layers,
      ...(ignored !== undefined ? { ignored } : {}),
      ...(index !== undefined ? { index } : {}),
      ...(platform !== undefined ? { platform } : {}),
      ...(source !== undefined ? { source } : {}),
      ...(o.stale === true ? { stale: true as const } : {}),
      ...(mode !== undefined ? { mode } : {}),
      ...(fallback !== undefined ? { fallback } : {}),
    };
  });
}
