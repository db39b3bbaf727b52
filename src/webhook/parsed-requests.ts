/**
 * Parsed admission requests kept by their body but the uid. Every replica of one integration
 * reaches the webhook as the same AdmissionReview bytes but for `request.uid` (the apiserver names
 * a generated pod after admission), and parsing those 4-5 KB was the largest single cost of a warm
 * admission. So a body seen twice is kept parsed, deep-frozen, and a later body that equals it but
 * for the uid is handed the kept request with its own uid: no JSON shape scan, no `JSON.parse`.
 *
 * It can never hand out another request's object. The key is the offset of the uid's characters
 * and the SHA-256 of every other byte of the body; the uid is a run of characters that need no JSON
 * escaping, ended by `"` (anything else is not keyed). So equal keys mean bytes that are equal but
 * for that one string token. Before a body is kept, a copy with another uid of the same length is
 * parsed and must carry that uid as `request.uid`: this proves the token is the request's effective
 * uid (not a look-alike `"request":{"uid":` deeper in the body, nor one a later duplicate key
 * overrides). A string token decides only its own value, so a body with an equal key parses to the
 * kept request with its own uid. Bounded in count and body size: what is kept is outside the body
 * budget.
 */
import { hash } from 'node:crypto';
import { deepFreeze } from '../base/frozen.js';
import { LruCache } from '../base/lru.js';
import { MAX_UID_CHARS, parseAdmissionReview, type AdmissionRequest } from './admission.js';

/** Distinct request bodies kept parsed (least recently used first out): one per pod template in use. */
export const MAX_PARSED_REQUESTS = 64;
/**
 * Largest body kept parsed: a Camel K pod's review is about 4.5 KB; parsed objects take several
 * times their text, so 64 × 16 KiB bounds the kept objects to a few MiB.
 */
export const MAX_PARSED_BODY_BYTES = 16 * 1024;

/** What precedes the uid's characters in a body as the apiserver writes it. */
const UID_SPAN = Buffer.from('"request":{"uid":"');
const QUOTE = 0x22;

/** True for a byte of a uid that JSON writes as it is: letters, digits, `-`, `.`, `_`, `:`. */
function isPlainUidByte(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x3a
  );
}

/** A body's key (its bytes but the uid's) and the uid written in it. */
export interface BodyKey {
  readonly key: string;
  readonly uid: string;
  /** Offset of the uid's first character. */
  readonly from: number;
}

/**
 * The key of a body: the offset of the uid's characters after the first `"request":{"uid":"`, and
 * the SHA-256 of the bytes before and after them. Undefined when the body has no such span, or the
 * uid there is empty, too long, or not plain characters ended by `"`.
 */
export function bodyKeyOf(body: Buffer): BodyKey | undefined {
  const start = body.indexOf(UID_SPAN);
  if (start < 0) return undefined;
  const from = start + UID_SPAN.length;
  let end = from;
  while (end < body.length && end - from <= MAX_UID_CHARS && isPlainUidByte(body[end]!)) end++;
  if (end === from || end - from > MAX_UID_CHARS || end >= body.length || body[end] !== QUOTE) return undefined;
  const rest = Buffer.allocUnsafe(body.length - (end - from));
  body.copy(rest, 0, 0, from);
  body.copy(rest, from, end);
  return { key: `${from}:${hash('sha256', rest, 'base64')}`, uid: body.toString('latin1', from, end), from };
}

/**
 * The key of a request body but its uid, for the answer memo: the body's key when the uid written
 * in it is `uid`, the request's parsed uid. Two bodies with equal keys whose scanned uid is their
 * parsed one are equal but for that uid (a look-alike span before the request's own would have to
 * hold the parsed uid too, and the request's own uid is among the hashed bytes). Undefined for a
 * body not written as the apiserver writes it.
 */
export function requestKeyOf(body: Buffer, uid: string): string | undefined {
  const k = bodyKeyOf(body);
  return k !== undefined && k.uid === uid ? k.key : undefined;
}

/** Another uid of the same length and plain characters. */
function otherUid(uid: string): string {
  let out = '';
  for (const c of uid) out += c === 'a' ? 'b' : 'a';
  return out;
}

/** The kept requests. */
export class ParsedRequests {
  private readonly kept: LruCache<string, AdmissionRequest>;
  /** Keys seen once: a body is kept (parsed a second time, to prove its uid) only when seen again. */
  private readonly seen: LruCache<string, true>;

  constructor(maxEntries = MAX_PARSED_REQUESTS) {
    this.kept = new LruCache(maxEntries);
    this.seen = new LruCache(maxEntries * 4);
  }

  /** The key of a body that may be kept, else undefined (too large, or not keyable). */
  keyOf(body: Buffer): BodyKey | undefined {
    return body.length <= MAX_PARSED_BODY_BYTES ? bodyKeyOf(body) : undefined;
  }

  /** The kept request of a body with key `k`, carrying the body's own uid; undefined when none is kept. */
  get(k: BodyKey): AdmissionRequest | undefined {
    const kept = this.kept.get(k.key);
    if (kept === undefined) return undefined;
    return kept.uid === k.uid ? kept : Object.freeze({ ...kept, uid: k.uid });
  }

  /**
   * Offers a body just parsed to `request` (not kept: the caller parsed it). On its second sighting,
   * once its uid token is proved to be the request's (see the module comment), `request` is frozen
   * deeply and kept; true when it is kept (then the key may stand for the body but its uid).
   */
  offer(k: BodyKey, body: Buffer, request: AdmissionRequest): boolean {
    if (request.uid !== k.uid) return false;
    if (this.seen.get(k.key) === undefined) {
      this.seen.set(k.key, true);
      return false;
    }
    const probe = Buffer.from(body);
    const other = otherUid(k.uid);
    probe.write(other, k.from, 'latin1');
    let parsed: ReturnType<typeof parseAdmissionReview>;
    try {
      parsed = parseAdmissionReview(JSON.parse(probe.toString('utf8')));
    } catch {
      return false;
    }
    if (!parsed.ok || parsed.request.uid !== other) return false;
    deepFreeze(request);
    this.kept.set(k.key, request);
    this.seen.delete(k.key);
    return true;
  }

  /** Number of requests kept. */
  get size(): number {
    return this.kept.size;
  }
}
