/**
 * Image references, exactly as the distribution/reference grammar defines them (regexp.go,
 * reference.go, normalize.go), plus the one entry point camel-oci uses: `parseReference`.
 *
 * Pure: no I/O. Every parse bounds its input before any regular expression runs.
 */
import { OciError } from '../base/errors.js';
import { SHA256_HEX } from './digest.js';

/** A parsed named reference. `domain` is '' only for strict `parse`/`withName` results without a domain. */
export interface Reference {
  /** Registry host[:port] as written (normalized for Docker Hub by the normalizing parsers). */
  readonly domain: string;
  /** Repository path (`library/debian`, `acme/deps`). */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** What `parseAnyReference` returns for a bare digest or 64-hex image ID. */
export interface DigestOnlyReference {
  readonly digestOnly: true;
  readonly digest: string;
}

/**
 * Why a reference was refused (in `err.context.reason`). The first eight mirror the Go sentinels
 * (ErrNameEmpty, ErrReferenceInvalidFormat, ErrNameContainsUppercase, ErrNameTooLong,
 * ErrNameNotCanonical, go-digest ErrDigestInvalidLength / ErrDigestUnsupported /
 * ErrDigestInvalidFormat); the next two are normalize.go's free-text errors; the last is ours.
 */
export type ReferenceErrorReason =
  | 'NAME_EMPTY'
  | 'INVALID_FORMAT'
  | 'NAME_CONTAINS_UPPERCASE'
  | 'NAME_TOO_LONG'
  | 'NAME_NOT_CANONICAL'
  | 'DIGEST_INVALID_LENGTH'
  | 'DIGEST_UNSUPPORTED'
  | 'DIGEST_INVALID_FORMAT'
  | 'REPOSITORY_UPPERCASE'
  | 'HEX_IDENTIFIER'
  | 'INPUT_TOO_LONG'
  | 'PORT_INVALID';

/** Registry domain of Docker Hub in normalized references. */
export const DEFAULT_DOMAIN = 'docker.io';
/** Host actually serving the Docker Hub registry API (`docker.io` itself does not). */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';
/** Old name of Docker Hub that normalization rewrites to `docker.io`. */
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
/** Namespace of Docker Hub's official images (`debian` is `docker.io/library/debian`). */
const OFFICIAL_REPO_PREFIX = 'library/';
/** Prefix camel-oci accepts in front of a reference (Camel K's dependency syntax). */
export const CONTAINER_PREFIX = 'container:';
/** Tag callers assume when a reference has neither tag nor digest. */
export const DEFAULT_TAG = 'latest';

/** Highest TCP port: the grammar allows any digits after the host, a URL does not. */
export const MAX_PORT = 65535;
/** Longest repository path (reference.go NameTotalLengthMax; since v0.6.0 the domain is not counted). */
export const MAX_PATH_LENGTH = 255;
/**
 * Longest input we hand to the regular expressions. A valid reference is at most a host, a
 * 255-character path, a 128-character tag and a digest; anything longer is refused up front so no
 * input, however crafted, costs more than a bounded regex run.
 */
export const MAX_REFERENCE_LENGTH = 1024;

// Grammar pieces (regexp.go), composed as strings so the full expressions read like the spec.
const ALPHA_NUMERIC = '[a-z0-9]+';
// regexp.go's separator: one '.' or '_', exactly two '_', or a run of '-' (never empty).
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHA_NUMERIC}(?:${SEPARATOR}${ALPHA_NUMERIC})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
// IPv6 in brackets, no zone id and no embedded dotted IPv4 (as upstream).
const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?`;
// Without the u flag, \w is ASCII [A-Za-z0-9_], as in Go.
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;

/** Whole reference; groups: name, tag, digest. Leftmost-first like Go: a leading domain-like component followed by '/' is the domain. */
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
/** A name alone; groups: domain, path. */
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
/** A 64-hex image ID. */
const IDENTIFIER_RE = SHA256_HEX;
/** go-digest's anchored digest grammar (decides "unsupported" versus "malformed"). */
const GO_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_HEX_RE = SHA256_HEX;

const WHAT_VALID_LOOKS_LIKE =
  'expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], for example docker.io/acme/deps:1.0 or registry.example.com:5000/team/deps@sha256:…';

const EXPLANATION: Readonly<Record<ReferenceErrorReason, string>> = {
  NAME_EMPTY: 'it is empty',
  INVALID_FORMAT:
    'it does not match the reference grammar (lowercase path components of letters and digits joined by ".", "_", "__" or "-", separated by "/"; an optional ":tag" of up to 128 letters, digits, "_", "." or "-"; an optional "@digest")',
  NAME_CONTAINS_UPPERCASE: 'the repository name contains uppercase letters (only the registry host and the tag may)',
  NAME_TOO_LONG: `the repository path is longer than ${MAX_PATH_LENGTH} characters`,
  NAME_NOT_CANONICAL: 'it is not in canonical form (write the registry and full path, as in docker.io/library/debian)',
  DIGEST_INVALID_LENGTH: 'the digest has the wrong length (sha256 needs exactly 64 hex characters)',
  DIGEST_UNSUPPORTED: 'the digest algorithm is not supported (use sha256)',
  DIGEST_INVALID_FORMAT: 'the digest is malformed (sha256 needs 64 lowercase hex characters)',
  REPOSITORY_UPPERCASE: 'the repository name must be lowercase',
  HEX_IDENTIFIER: 'a bare 64-character hex string is an image ID, not a repository name',
  INPUT_TOO_LONG: `it is longer than ${MAX_REFERENCE_LENGTH} characters`,
  PORT_INVALID: `the registry port is not a TCP port (1 to ${MAX_PORT})`,
};

function quote(input: string): string {
  return JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input);
}

function refused(input: string, reason: ReferenceErrorReason): OciError {
  return new OciError('REFERENCE_INVALID', `invalid image reference ${quote(input)}: ${EXPLANATION[reason]}; ${WHAT_VALID_LOOKS_LIKE}`, {
    context: { reason, reference: input.length > 200 ? `${input.slice(0, 200)}…` : input },
  });
}

function bound(input: string): void {
  if (input.length > MAX_REFERENCE_LENGTH) throw refused(input, 'INPUT_TOO_LONG');
}

/** The reason a caught reference error carries, or undefined for anything else. */
export function referenceErrorReason(err: unknown): ReferenceErrorReason | undefined {
  if (!(err instanceof OciError) || err.code !== 'REFERENCE_INVALID') return undefined;
  const reason = err.context.reason;
  return typeof reason === 'string' && reason in EXPLANATION ? (reason as ReferenceErrorReason) : undefined;
}

/** go-digest Parse with only sha256 available (what the upstream vectors and camel-oci's pins use). */
function checkDigest(input: string, digest: string): void {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (algorithm !== 'sha256') throw refused(input, GO_DIGEST_RE.test(digest) ? 'DIGEST_UNSUPPORTED' : 'DIGEST_INVALID_FORMAT');
  if (encoded.length !== 64) throw refused(input, 'DIGEST_INVALID_LENGTH');
  if (!SHA256_HEX_RE.test(encoded)) throw refused(input, 'DIGEST_INVALID_FORMAT');
}

/** Refuses a domain whose port no URL can carry (the grammar allows any digits). */
function checkPort(input: string, domain: string): void {
  const port = /:([0-9]+)$/.exec(domain)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > MAX_PORT)) throw refused(input, 'PORT_INVALID');
}

function build(domain: string, path: string, tag: string | undefined, digest: string | undefined): Reference {
  return {
    domain,
    path,
    ...(tag !== undefined && tag !== '' ? { tag } : {}),
    ...(digest !== undefined && digest !== '' ? { digest } : {}),
  };
}

/** Strict parse, no normalization (reference.Parse): `foo/bar` has domain `foo`, `foo` has none. */
export function parse(input: string): Reference {
  bound(input);
  return strictParse(input, input);
}

/** reference.Parse on `s`, reporting errors against `original` (what the user wrote). Callers bound the length. */
function strictParse(s: string, original: string): Reference {
  if (s === '') throw refused(original, 'NAME_EMPTY');
  const m = REFERENCE_RE.exec(s);
  if (m === null) {
    const lower = s.toLowerCase();
    if (lower !== s && REFERENCE_RE.test(lower)) throw refused(original, 'NAME_CONTAINS_UPPERCASE');
    throw refused(original, 'INVALID_FORMAT');
  }
  const n = ANCHORED_NAME_RE.exec(m[1] ?? '');
  if (n === null) throw refused(original, 'INVALID_FORMAT'); // unreachable: REFERENCE_RE's name group is this grammar
  const path = n[2] ?? '';
  if (path.length > MAX_PATH_LENGTH) throw refused(original, 'NAME_TOO_LONG');
  const digest = m[3];
  if (digest !== undefined) checkDigest(original, digest);
  checkPort(original, n[1] ?? '');
  return build(n[1] ?? '', path, m[2], digest);
}

/** A name without tag or digest (reference.WithName): `[domain/]path`. */
export function withName(name: string): Reference {
  bound(name);
  const n = ANCHORED_NAME_RE.exec(name);
  if (n === null) throw refused(name, 'INVALID_FORMAT');
  const path = n[2] ?? '';
  if (path.length > MAX_PATH_LENGTH) throw refused(name, 'NAME_TOO_LONG');
  checkPort(name, n[1] ?? '');
  return build(n[1] ?? '', path, undefined, undefined);
}

/**
 * Splits off the registry the way the docker CLI does (normalize.go splitDockerDomain): the first
 * component is a registry only when it has a '.' or ':', is `localhost`, or has an uppercase letter.
 */
function splitDockerDomain(name: string): [domain: string, remainder: string] {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/** Docker-normalized parse (reference.ParseNormalizedNamed): `debian` is `docker.io/library/debian`. Adds no tag. */
export function parseNormalizedNamed(input: string): Reference {
  bound(input);
  return normalizedParse(input, input);
}

/** reference.ParseNormalizedNamed on `s`, reporting errors against `original`. Callers bound the length. */
function normalizedParse(s: string, original: string): Reference {
  if (IDENTIFIER_RE.test(s)) throw refused(original, 'HEX_IDENTIFIER');
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) throw refused(original, 'REPOSITORY_UPPERCASE');
  // Errors quote the user's text, not our normalized rewrite of it.
  return strictParse(`${domain}/${remainder}`, original);
}

/** Like parseNormalizedNamed, but the input must already be canonical (reference.ParseNamed). */
export function parseNamed(input: string): Reference {
  const ref = parseNormalizedNamed(input);
  if (formatReference(ref) !== input) throw refused(input, 'NAME_NOT_CANONICAL');
  return ref;
}

/**
 * Normalizes, adds `:latest` when there is neither tag nor digest, and drops the tag when a digest is
 * present (reference.ParseDockerRef).
 */
export function parseDockerRef(input: string): Reference {
  const ref = parseNormalizedNamed(input);
  if (ref.digest !== undefined) return build(ref.domain, ref.path, undefined, ref.digest);
  if (ref.tag === undefined) return build(ref.domain, ref.path, DEFAULT_TAG, undefined);
  return ref;
}

/** A 64-hex ID or a sha256 digest becomes a digest-only reference; anything else is parsed normalized (reference.ParseAnyReference). */
export function parseAnyReference(input: string): Reference | DigestOnlyReference {
  bound(input);
  if (IDENTIFIER_RE.test(input)) return { digestOnly: true, digest: `sha256:${input}` };
  if (input.startsWith('sha256:') && SHA256_HEX_RE.test(input.slice('sha256:'.length))) return { digestOnly: true, digest: input };
  return parseNormalizedNamed(input);
}

/** True for the digest-only results of parseAnyReference. */
export function isDigestOnly(ref: Reference | DigestOnlyReference): ref is DigestOnlyReference {
  return 'digestOnly' in ref;
}

/** The name part: `[domain/]path`. */
export function referenceName(ref: Pick<Reference, 'domain' | 'path'>): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** The full string `[domain/]path[:tag][@digest]` (for normalized references, the canonical form). */
export function formatReference(ref: Reference): string {
  return `${referenceName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The short name people type (reference.FamiliarName): drops `docker.io/`, and `library/` for single-segment official images. */
export function familiarName(ref: Pick<Reference, 'domain' | 'path'>): string {
  if (ref.domain !== DEFAULT_DOMAIN) return referenceName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** The short full string (reference.FamiliarString): familiar name plus `:tag` and `@digest`. */
export function familiarString(ref: Reference): string {
  return `${familiarName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/**
 * Parses a reference as camel-oci receives it: an optional `container:` prefix, then docker
 * normalization (`acme/deps:1.0` is `docker.io/acme/deps:1.0`). Adds no default tag: callers treat
 * neither tag nor digest as `latest`. Only sha256 digests are accepted. Throws OciError
 * REFERENCE_INVALID with the reason in `context.reason`.
 */
export function parseReference(input: string): Reference {
  bound(input);
  const bare = input.startsWith(CONTAINER_PREFIX) ? input.slice(CONTAINER_PREFIX.length) : input;
  if (bare === '') throw refused(input, 'NAME_EMPTY');
  return normalizedParse(bare, input);
}

/** The host[:port] to contact for a normalized reference: `registry-1.docker.io` for Docker Hub, else its domain. */
export function registryEndpoint(ref: Pick<Reference, 'domain'>): string {
  return ref.domain === DEFAULT_DOMAIN || ref.domain === '' ? DOCKER_HUB_REGISTRY : ref.domain;
}
