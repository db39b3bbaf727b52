/**
 * Content digests (`algorithm:encoded`, OCI image-spec descriptor.md "Digests"). Pure: hashing uses
 * node:crypto, which does no I/O.
 */
import { createHash } from 'node:crypto';
import { OciError } from '../base/errors.js';
import type { ErrorCode } from '../base/errors.js';

/** Digest algorithms camel-oci can compute and verify (the two the OCI spec registers). */
export type DigestAlgorithm = 'sha256' | 'sha512';

/** A digest split into its parts. */
export interface ParsedDigest {
  readonly algorithm: DigestAlgorithm;
  /** Lowercase hex of the hash (64 characters for sha256, 128 for sha512). */
  readonly hex: string;
}

/**
 * Longest digest text we look at. sha512 needs 135 characters; the OCI grammar allows other
 * algorithms and encodings, but nothing legitimate comes near this, and it keeps checks cheap.
 */
export const MAX_DIGEST_LENGTH = 1024;

/** The encoded part of a sha256 digest: exactly 64 lowercase hex characters (also a Docker image ID). */
export const SHA256_HEX = /^[a-f0-9]{64}$/;

/** A whole sha256 digest, `sha256:` and 64 lowercase hex characters: the only digest camel-oci pins, plans and verifies. */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** OCI descriptor digest grammar (defs-descriptor.json), which admits unregistered algorithms. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Registered algorithms and their exact encodings (descriptor.md, "Registered algorithms"). */
const REGISTERED: Readonly<Record<DigestAlgorithm, RegExp>> = {
  sha256: SHA256_HEX,
  sha512: /^[a-f0-9]{128}$/,
};

function isRegistered(algorithm: string): algorithm is DigestAlgorithm {
  return algorithm === 'sha256' || algorithm === 'sha512';
}

/**
 * Says why `s` is not a valid descriptor digest, or returns undefined when it is. Unregistered
 * algorithms (`sha256+b64u:…`) are valid by the grammar; registered ones must use their exact
 * lowercase hex encoding, as go-digest enforces.
 */
export function descriptorDigestProblem(s: string): string | undefined {
  if (s.length > MAX_DIGEST_LENGTH) return `longer than ${MAX_DIGEST_LENGTH} characters`;
  if (!DIGEST_GRAMMAR.test(s)) return 'not of the form <algorithm>:<encoded> (e.g. sha256:<64 lowercase hex>)';
  const colon = s.indexOf(':');
  const algorithm = s.slice(0, colon);
  const encoded = s.slice(colon + 1);
  if (isRegistered(algorithm)) {
    const want = algorithm === 'sha256' ? 64 : 128;
    if (encoded.length !== want) return `${algorithm} needs exactly ${want} hex characters, got ${encoded.length}`;
    if (!REGISTERED[algorithm].test(encoded)) return `${algorithm} needs lowercase hex characters only`;
  }
  return undefined;
}

/** True when `s` is a valid OCI descriptor digest (any algorithm the grammar admits). */
export function isDescriptorDigest(s: string): boolean {
  return descriptorDigestProblem(s) === undefined;
}

/**
 * Parses a digest camel-oci can verify (sha256 or sha512, lowercase hex). Throws OciError with
 * `code` (default REFERENCE_INVALID; callers checking registry answers pass their own).
 */
export function parseDigest(s: string, code: ErrorCode = 'REFERENCE_INVALID'): ParsedDigest {
  const quoted = JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);
  const problem = descriptorDigestProblem(s);
  if (problem !== undefined) {
    throw new OciError(code, `invalid digest ${quoted}: ${problem}; expected sha256:<64 lowercase hex characters>`, {
      context: { reason: 'DIGEST_INVALID' },
    });
  }
  const colon = s.indexOf(':');
  const algorithm = s.slice(0, colon);
  if (!isRegistered(algorithm)) {
    throw new OciError(
      code,
      `unsupported digest algorithm in ${quoted}: camel-oci verifies sha256 and sha512 only; expected sha256:<64 lowercase hex characters>`,
      {
        context: { reason: 'DIGEST_UNSUPPORTED', algorithm },
      },
    );
  }
  return { algorithm, hex: s.slice(colon + 1) };
}

/** True when `s` is exactly `sha256:` followed by 64 lowercase hex characters. */
export function isSha256Digest(s: string): boolean {
  return SHA256_DIGEST.test(s);
}

/** Computes the digest of `bytes` with the given algorithm (`sha256:<hex>`). */
export function computeDigest(algorithm: DigestAlgorithm, bytes: Uint8Array): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** The sha256 digest of `bytes` (`sha256:<64 hex>`). */
export function sha256Digest(bytes: Uint8Array): string {
  return computeDigest('sha256', bytes);
}

/**
 * True when `bytes` hash to `digest`. A digest in an algorithm we cannot compute never matches, so
 * callers fail closed.
 */
export function matchesDigest(bytes: Uint8Array, digest: string): boolean {
  if (descriptorDigestProblem(digest) !== undefined) return false;
  const algorithm = digest.slice(0, digest.indexOf(':'));
  if (!isRegistered(algorithm)) return false;
  return computeDigest(algorithm, bytes) === digest;
}
