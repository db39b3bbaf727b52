/**
 * A bounded memory of finished pod answers. Every pod of one integration asks the same webhook
 * the same question: the same pod template, the same references, resolved to the same artifacts.
 * The patch, its warnings and its audit annotations are a pure function of the pod object, the
 * resolved artifacts, the base path and the process's injection options; so the answer is kept
 * under a digest of all of those and handed out again, and the admission skips the patch builder.
 *
 * It can never hand out another pod's patch: the key is a SHA-256 of the whole pod object as
 * parsed (every field, not a chosen few; or, from the webhook, a digest of the whole request body
 * but its uid, which holds the pod and more), the namespace, the base path, and every field of every
 * resolved artifact (values as they are; lists and objects by the identity of the resolver's
 * cached instance, which is never changed once built, so a new resolution is a new key). One memo
 * belongs to one set of injection options (it lives in the deps that carry them). Whatever else a
 * future patch reads (another option, a lookup per request) must join the key, or bypass the memo.
 */
import { hash } from 'node:crypto';
import { LruCache } from '../base/lru.js';
import type { ResolvedArtifact } from '../plan/artifact.js';
import type { AdmissionAnswer } from './answer.js';

/** Answers kept (least recently used first out): one per distinct pod shape in use. */
export const MAX_MEMO_ANSWERS = 128;
/**
 * Largest pod (as JSON characters) whose answer is kept: a Camel K pod is about 4 KiB; a huge pod
 * is rare, would be hashed for nothing, and could make a large entry.
 */
export const MAX_MEMO_POD_CHARS = 64 * 1024;
/** Most references of a pod whose answer is kept (each adds to the patch an entry holds). */
export const MAX_MEMO_REFERENCES = 8;

/** Ids of object values of resolved artifacts (layers, ignored layers, mirrors), by identity; never reused. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

function idOf(value: object): number {
  let id = objectIds.get(value);
  if (id === undefined) {
    id = ++nextObjectId;
    objectIds.set(value, id);
  }
  return id;
}

/** Fingerprints of frozen artifacts (the resolver's cached instances), by identity: they cannot change. */
const fingerprints = new WeakMap<ResolvedArtifact, string>();

/** Every field of one artifact, in an unambiguous form: primitives as they are, objects by identity. */
function artifactFingerprint(a: ResolvedArtifact): string {
  const frozen = Object.isFrozen(a);
  if (frozen) {
    const known = fingerprints.get(a);
    if (known !== undefined) return known;
  }
  const fields: unknown[] = [];
  for (const key of Object.keys(a)) {
    const value = (a as unknown as Record<string, unknown>)[key];
    fields.push(key, typeof value === 'object' && value !== null ? { id: idOf(value) } : value === undefined ? { undef: true } : value);
  }
  const text = JSON.stringify(fields);
  if (frozen) fingerprints.set(a, text);
  return text;
}

/** Every field of the artifacts, in an unambiguous form (a JSON array of each one's JSON array). */
function artifactsFingerprint(artifacts: readonly ResolvedArtifact[]): string {
  let out = '[';
  for (let i = 0; i < artifacts.length; i++) out += (i === 0 ? '' : ',') + artifactFingerprint(artifacts[i]!);
  return out + ']';
}

/** The memo: keys computed from a pod admission's inputs, answers kept under them. */
export class AnswerMemo {
  private readonly answers: LruCache<string, AdmissionAnswer>;

  constructor(maxEntries = MAX_MEMO_ANSWERS) {
    this.answers = new LruCache(maxEntries);
  }

  /**
   * The key of an admission's inputs, or undefined when this pod's answer is not kept (too large,
   * too many references, or a pod that does not serialize).
   */
  key(pod: object, namespace: string, basePath: string, artifacts: readonly ResolvedArtifact[], requestKey?: string): string | undefined {
    if (artifacts.length > MAX_MEMO_REFERENCES) return undefined;
    // A digest of the whole request but its uid covers the pod and more: no need to serialize the pod again.
    // The key is then short (a digest and the artifacts' fields), kept as it is.
    if (requestKey !== undefined)
      return `${namespace.length}:${namespace}|${basePath.length}:${basePath}|${artifactsFingerprint(artifacts)}|request ${requestKey}`;
    let podJson: string;
    try {
      podJson = JSON.stringify(pod);
    } catch {
      return undefined;
    }
    if (podJson === undefined || podJson.length > MAX_MEMO_POD_CHARS) return undefined;
    // Length prefixes and a self-delimiting JSON array keep the parts from running into each other.
    const text = `${namespace.length}:${namespace}|${basePath.length}:${basePath}|${artifactsFingerprint(artifacts)}|pod ${podJson}`;
    return `pod ${hash('sha256', text, 'base64')}`;
  }

  /** The answer kept under `key`, if any. */
  get(key: string): AdmissionAnswer | undefined {
    return this.answers.get(key);
  }

  /** Keeps `answer` under `key`. */
  set(key: string, answer: AdmissionAnswer): void {
    this.answers.set(key, answer);
  }

  /** Number of answers kept. */
  get size(): number {
    return this.answers.size;
  }
}
