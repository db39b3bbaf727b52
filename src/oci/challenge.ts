/**
 * Registry authentication challenges and token answers: parsing `WWW-Authenticate`, picking the
 * Bearer or Basic challenge, reading and writing token scopes, and reading a token server's JSON.
 * Pure: no network, no file system. The transport composes these (see the auth handshake there).
 *
 * Sources: RFC 7235 §2.1/§4.1 (challenge grammar), RFC 6750 §3 (Bearer challenge), the distribution
 * token spec (docs/content/spec/auth/{token,scope}.md) and the behaviour of distribution's client
 * (internal/client/auth/challenge) and of distribution 2.8 as a server.
 */
import { OciError } from '../base/errors.js';

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** Auth scheme, lower-cased (`bearer`, `basic`): RFC 7235 §2.1 makes it case-insensitive. */
  readonly scheme: string;
  /** Auth parameters with lower-cased keys; values unquoted and unescaped. Own keys only. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Longest `WWW-Authenticate` we read, all header lines together. distribution's challenges are
 * about 150 characters; 8 KiB leaves room for several challenges and long scopes while keeping a
 * hostile registry from making us parse megabytes on every 401.
 */
export const MAX_CHALLENGE_HEADER_CHARS = 8 * 1024;

/** Most header lines we read; real registries send one or two. */
export const MAX_CHALLENGE_HEADER_LINES = 32;

/**
 * Longest bearer token we accept. JWTs from distribution, Harbor, Quay and Docker Hub are 1-4 KiB;
 * a larger one would not fit many servers' default header limits (Node's is 16 KiB) anyway, and the
 * bound caps what a token cache holds per (registry, scope).
 */
export const MAX_TOKEN_CHARS = 16 * 1024;

/** Token lifetime when `expires_in` is absent, and the floor for smaller values (token.md: "defaults to 60 seconds", "should never be returned with less than 60 seconds"). */
export const MIN_TOKEN_LIFETIME_SECONDS = 60;

/**
 * Longest lifetime we believe. Registries issue tokens for 5 minutes to 1 hour; a cap of a day keeps
 * a token server's mistake (or `expires_in: 1e12`) from pinning one token in our caches forever.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;

// ---------------------------------------------------------------------------------------------
// WWW-Authenticate

/**
 * Parses `WWW-Authenticate` header values into challenges, in order.
 *
 * Accepts one value or several header lines; each line may hold several comma-separated challenges
 * (RFC 7235 §4.1), which also covers lines an HTTP library joined with ", ". Parameter values may be
 * tokens or quoted strings, where a backslash escapes the next character and is dropped. Spaces and
 * tabs around `=` and `,` are tolerated. A token68 credential (`Negotiate abc==`) is skipped: no
 * registry scheme uses one. As in distribution's parser, the first malformed piece ends the parsing
 * of that line; the challenges and parameters read before it are kept. A repeated parameter in
 * one challenge counts as malformed (RFC 7235 §2.1: "MUST only occur once"), so the first value wins.
 *
 * Throws OciError `REGISTRY_ERROR` when the values exceed MAX_CHALLENGE_HEADER_CHARS or
 * MAX_CHALLENGE_HEADER_LINES: refusing is safer than truncating, which could cut a realm short.
 */
export function parseWwwAuthenticate(headerValues: string | readonly string[]): Challenge[] {
  const lines: readonly string[] = typeof headerValues === 'string' ? [headerValues] : headerValues;
  if (lines.length > MAX_CHALLENGE_HEADER_LINES) {
    throw new OciError(
      'REGISTRY_ERROR',
      `registry sent ${lines.length} WWW-Authenticate header lines (limit ${MAX_CHALLENGE_HEADER_LINES}); refusing to parse them`,
      { context: { lines: lines.length } },
    );
  }
  let total = 0;
  for (const line of lines) total += line.length;
  if (total > MAX_CHALLENGE_HEADER_CHARS) {
    throw new OciError(
      'REGISTRY_ERROR',
      `registry sent a WWW-Authenticate header of ${total} characters (limit ${MAX_CHALLENGE_HEADER_CHARS}); refusing to parse it`,
      { context: { chars: total } },
    );
  }
  const out: Challenge[] = [];
  for (const line of lines) parseLine(line, out);
  return out;
}

interface ChallengeBuilder {
  readonly scheme: string;
  readonly params: Map<string, string>;
  /** False once a token68 was read: such a challenge has no auth-params. */
  acceptsParams: boolean;
}

/** Parses one header line, appending its challenges to `out`; stops at the first malformed piece. */
function parseLine(s: string, out: Challenge[]): void {
  const built: ChallengeBuilder[] = [];
  let current: ChallengeBuilder | undefined;
  // True right after a scheme: the next item is separated by whitespace, not a comma.
  let afterScheme = false;
  let i = 0;
  for (;;) {
    i = skipWhitespace(s, i);
    let sawComma = false;
    while (s[i] === ',') {
      sawComma = true;
      i = skipWhitespace(s, i + 1);
    }
    if (i >= s.length) break;

    if (afterScheme && !sawComma) {
      // `scheme 1*SP ( token68 / #auth-param )`
      afterScheme = false;
      const param = readParam(s, i);
      if (param === 'malformed') break;
      if (param !== undefined && current !== undefined) {
        if (!addParam(current, param.key, param.value)) break;
        i = param.end;
        continue;
      }
      const end = readToken68(s, i);
      if (end === i || current === undefined) break;
      current.acceptsParams = false;
      i = end;
      continue;
    }
    afterScheme = false;
    // Anything but the first challenge must follow a comma.
    if (current !== undefined && !sawComma) break;

    const param = readParam(s, i);
    if (param === 'malformed') break;
    if (param !== undefined) {
      // A parameter with no challenge before it, or after a token68, is malformed.
      if (current === undefined || !current.acceptsParams) break;
      if (!addParam(current, param.key, param.value)) break;
      i = param.end;
      continue;
    }
    const end = readToken(s, i);
    if (end === i) break;
    current = { scheme: s.slice(i, end).toLowerCase(), params: new Map(), acceptsParams: true };
    built.push(current);
    afterScheme = true;
    i = end;
  }
  for (const b of built) {
    // fromEntries defines own properties, so a `__proto__` parameter cannot touch the prototype.
    out.push(Object.freeze({ scheme: b.scheme, params: Object.freeze(Object.fromEntries(b.params)) }));
  }
}

/** Adds a parameter; false when the key is repeated (malformed, RFC 7235 §2.1). */
function addParam(c: ChallengeBuilder, key: string, value: string): boolean {
  const k = key.toLowerCase();
  if (c.params.has(k)) return false;
  c.params.set(k, value);
  return true;
}

/**
 * Reads `token BWS "=" BWS ( token / quoted-string )` at `i`. Returns undefined when the text there
 * is not a parameter (a scheme or a token68), 'malformed' for a broken quoted string.
 */
function readParam(s: string, i: number): { key: string; value: string; end: number } | 'malformed' | undefined {
  const keyEnd = readToken(s, i);
  if (keyEnd === i) return undefined;
  const eq = skipWhitespace(s, keyEnd);
  if (s[eq] !== '=') return undefined;
  const v = skipWhitespace(s, eq + 1);
  const key = s.slice(i, keyEnd);
  if (s[v] === '"') {
    const q = readQuoted(s, v);
    return q === undefined ? 'malformed' : { key, value: q.value, end: q.end };
  }
  const valueEnd = readToken(s, v);
  // `abc==` or `abc=` at the end: a token68, not a parameter.
  if (valueEnd === v) return undefined;
  return { key, value: s.slice(v, valueEnd), end: valueEnd };
}

/** Reads a quoted-string starting at the opening quote; undefined when unterminated or broken. */
function readQuoted(s: string, start: number): { value: string; end: number } | undefined {
  let value = '';
  for (let i = start + 1; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '"') return { value, end: i + 1 };
    if (c === '\\') {
      // quoted-pair: the backslash is dropped and the next character kept as is.
      i++;
      if (i >= s.length) return undefined;
      value += s[i] as string;
      continue;
    }
    // qdtext excludes control characters other than HTAB.
    const code = c.charCodeAt(0);
    if ((code < 0x20 && c !== '\t') || code === 0x7f) return undefined;
    value += c;
  }
  return undefined;
}

/** RFC 7230 §3.2.6 tchar. */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** RFC 7235 §2.1 token68 characters before the trailing `=`s. */
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/** Returns the end of the token starting at `i` (`i` itself when there is none). */
function readToken(s: string, i: number): number {
  let j = i;
  while (j < s.length && TCHAR.test(s[j] as string)) j++;
  return j;
}

/** Returns the end of the token68 starting at `i` (`i` itself when there is none). */
function readToken68(s: string, i: number): number {
  let j = i;
  while (j < s.length && TOKEN68_CHAR.test(s[j] as string)) j++;
  if (j === i) return i;
  while (s[j] === '=') j++;
  return j;
}

function skipWhitespace(s: string, i: number): number {
  let j = i;
  while (s[j] === ' ' || s[j] === '\t') j++;
  return j;
}

/** Returns an own parameter of a challenge (params are plain objects, so `in` would see Object.prototype). */
function ownParam(c: Challenge, key: string): string | undefined {
  return Object.hasOwn(c.params, key) ? c.params[key] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Bearer and Basic

/** What a Bearer challenge asks for: where to get a token, for which service and scope. */
export interface BearerChallenge {
  /** Token server URL: absolute http(s), normalized by the WHATWG URL parser. */
  readonly realm: string;
  readonly service?: string;
  /** Space-separated resource scopes, verbatim (use parseScopes to compare them). */
  readonly scope?: string;
  /** RFC 6750 §3.1 error, e.g. `invalid_token` or `insufficient_scope` when a token was refused. */
  readonly error?: string;
}

/** What a Basic challenge says. */
export interface BasicChallenge {
  /** Display realm; Basic credentials go to the registry itself, never to this. */
  readonly realm?: string;
}

/**
 * Returns the first Bearer challenge with its realm checked, or undefined when there is none.
 *
 * Throws OciError `UNAUTHORIZED` when a Bearer challenge is present but its realm is missing, not an
 * absolute http(s) URL, or carries userinfo: the registry demands a token we cannot ask for, and
 * falling back to another scheme would hide that. Whether the realm's host may be contacted
 * (allow-list, private addresses) is decided by the caller's policy, not here.
 */
export function bearerChallenge(challenges: readonly Challenge[]): BearerChallenge | undefined {
  const c = challenges.find((ch) => ch.scheme === 'bearer');
  if (c === undefined) return undefined;
  const realm = ownParam(c, 'realm');
  if (realm === undefined || realm === '') {
    throw new OciError('UNAUTHORIZED', 'registry sent a Bearer challenge without a realm, so no token server is known', {
      context: { service: ownParam(c, 'service') },
    });
  }
  const shown = realm.length > 200 ? `${realm.slice(0, 200)}...` : realm;
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new OciError('UNAUTHORIZED', `registry's Bearer realm "${shown}" is not an absolute URL`, {
      context: { realm: shown },
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new OciError('UNAUTHORIZED', `registry's Bearer realm "${shown}" is not an http(s) URL`, {
      context: { realm: shown },
    });
  }
  if (url.username !== '' || url.password !== '') {
    // Credentials in a realm URL would be sent to the token server by some clients; never follow one.
    throw new OciError('UNAUTHORIZED', "registry's Bearer realm carries user credentials in its URL; refusing it", {
      context: { realm: `${url.protocol}//${url.host}${url.pathname}` },
    });
  }
  const service = ownParam(c, 'service');
  const scope = ownParam(c, 'scope');
  const error = ownParam(c, 'error');
  return Object.freeze({
    realm: url.href,
    ...(service !== undefined && service !== '' ? { service } : {}),
    ...(scope !== undefined && scope !== '' ? { scope } : {}),
    ...(error !== undefined && error !== '' ? { error } : {}),
  });
}

/** Returns the first Basic challenge, or undefined when there is none. */
export function basicChallenge(challenges: readonly Challenge[]): BasicChallenge | undefined {
  const c = challenges.find((ch) => ch.scheme === 'basic');
  if (c === undefined) return undefined;
  const realm = ownParam(c, 'realm');
  return Object.freeze(realm !== undefined ? { realm } : {});
}

// ---------------------------------------------------------------------------------------------
// Scopes

/** One resource scope, `type[(class)]:name:action[,action]*` (distribution scope.md). */
export interface Scope {
  /** Resource type: `repository`, `registry`. */
  readonly type: string;
  /** Deprecated resource class (`plugin` in `repository(plugin)`); servers ignore it. */
  readonly resourceClass?: string;
  /** Resource name: a repository path, possibly `host[:port]/path`, or `catalog`. */
  readonly name: string;
  /** Actions in the order written; the registry's order is random (Go map order), so compare as sets. */
  readonly actions: readonly string[];
}

const SCOPE_TYPE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
// The grammar's name is a subset of the reference grammar; stay loose (hosts may be upper-case) but
// exclude what would break the scope list or a query string.
const SCOPE_NAME = /^[A-Za-z0-9._\-/:]+$/;
// scope.md says /[a-z]*/; distribution itself sends `registry:catalog:*`.
const SCOPE_ACTION = /^(?:[a-z]+|\*)$/;

/**
 * Parses one resource scope, or returns undefined when it is malformed.
 *
 * The name may contain one `:` (a registry port, scope.md's note), so the actions are split at the
 * last `:` and the type at the first. Empty actions (`pull,,push`) are dropped; no actions at all is
 * malformed.
 */
export function parseScope(s: string): Scope | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  const typeMatch = SCOPE_TYPE.exec(s.slice(0, first));
  const name = s.slice(first + 1, last);
  if (typeMatch === null || !SCOPE_NAME.test(name)) return undefined;
  if (name.indexOf(':') !== name.lastIndexOf(':')) return undefined;
  const actions = s
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  if (actions.length === 0 || !actions.every((a) => SCOPE_ACTION.test(a))) return undefined;
  const resourceClass = typeMatch[2];
  return Object.freeze({
    type: typeMatch[1] as string,
    ...(resourceClass !== undefined ? { resourceClass } : {}),
    name,
    actions: Object.freeze(actions),
  });
}

/** Parses a space-separated scope list (a challenge's `scope`); undefined if any element is malformed. */
export function parseScopes(s: string): Scope[] | undefined {
  const out: Scope[] = [];
  for (const part of s.split(/[ \t]+/)) {
    if (part === '') continue;
    const scope = parseScope(part);
    if (scope === undefined) return undefined;
    out.push(scope);
  }
  return out;
}

/**
 * Formats a scope in canonical form: actions de-duplicated and sorted, so two scopes that grant the
 * same thing format equally (usable as a cache key). The resource class is kept when present.
 */
export function formatScope(scope: Scope): string {
  const type = scope.resourceClass !== undefined ? `${scope.type}(${scope.resourceClass})` : scope.type;
  const actions = [...new Set(scope.actions)].sort();
  return `${type}:${scope.name}:${actions.join(',')}`;
}

/**
 * True when `granted` covers `wanted`: same type and name, and every wanted action granted (`*`
 * grants all). The resource class is ignored, as servers do (scope.md).
 */
export function scopeCovers(granted: Scope, wanted: Scope): boolean {
  if (granted.type !== wanted.type || granted.name !== wanted.name) return false;
  if (granted.actions.includes('*')) return true;
  return wanted.actions.every((a) => granted.actions.includes(a));
}

/**
 * Returns the pull scope of a repository, `repository:NAME:pull` (the name without the registry
 * host, as token.md's examples and distribution's client do). Throws OciError `REFERENCE_INVALID`
 * for a name that cannot appear in a scope.
 */
export function pullScope(repository: string): string {
  if (!SCOPE_NAME.test(repository) || repository.includes(':')) {
    throw new OciError('REFERENCE_INVALID', `repository name "${repository.slice(0, 200)}" cannot be used in a token scope`, {
      context: { repository: repository.slice(0, 200) },
    });
  }
  return `repository:${repository}:pull`;
}

// ---------------------------------------------------------------------------------------------
// Token server answers

/** A bearer token and when to stop using it. */
export interface TokenResponse {
  readonly token: string;
  /** Epoch milliseconds after which the token must not be sent; may already be past (see parseTokenResponse). */
  readonly expiresAt: number;
}

/**
 * Reads a token server's JSON answer (token.md "Token Response Fields"); `now` is epoch ms.
 *
 * - `token` is preferred, `access_token` used when `token` is absent or empty (token.md: both mean
 *   the same; if they differ "the client's choice is undefined").
 * - `expires_in` defaults to 60 s, is raised to 60 s, and capped at MAX_TOKEN_LIFETIME_SECONDS.
 * - `issued_at` (RFC 3339) is the start of the lifetime when valid and not in the future; a future
 *   time is clock skew and we count from `now`, so a skewed server cannot stretch a token's life.
 *   An old `issued_at` can give an `expiresAt` already past: use the token once, do not cache it.
 *
 * Throws OciError `UNAUTHORIZED` when the answer is not an object or the token is missing, empty,
 * longer than MAX_TOKEN_CHARS, or holds characters that cannot go into an Authorization header.
 */
export function parseTokenResponse(bodyJson: unknown, now: number): TokenResponse {
  if (typeof bodyJson !== 'object' || bodyJson === null || Array.isArray(bodyJson)) {
    throw new OciError('UNAUTHORIZED', 'token server answered with something other than a JSON object');
  }
  const body = bodyJson as Record<string, unknown>;
  const token = nonEmptyString(body['token']) ?? nonEmptyString(body['access_token']);
  if (token === undefined) {
    throw new OciError('UNAUTHORIZED', 'token server answer has no "token" or "access_token"');
  }
  if (token.length > MAX_TOKEN_CHARS) {
    throw new OciError('UNAUTHORIZED', `token server sent a token of ${token.length} characters (limit ${MAX_TOKEN_CHARS})`, {
      context: { chars: token.length },
    });
  }
  // Visible ASCII only: anything else would break or inject into the Authorization header. Stricter
  // RFC 6750 b64token would reject opaque tokens some registries issue.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new OciError('UNAUTHORIZED', 'token server sent a token with characters not allowed in an HTTP header');
  }
  const expiresIn = body['expires_in'];
  let lifetime = MIN_TOKEN_LIFETIME_SECONDS;
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn)) {
    lifetime = Math.min(MAX_TOKEN_LIFETIME_SECONDS, Math.max(MIN_TOKEN_LIFETIME_SECONDS, Math.floor(expiresIn)));
  }
  const issuedAt = typeof body['issued_at'] === 'string' ? parseRfc3339(body['issued_at']) : undefined;
  const start = issuedAt !== undefined && issuedAt <= now ? issuedAt : now;
  return Object.freeze({ token, expiresAt: start + lifetime * 1000 });
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 date-time to epoch ms, or undefined when invalid. Written out rather than
 * Date.parse because V8 accepts impossible dates (`2020-02-31` becomes March 2nd).
 */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k]));
  if (year === undefined || month === undefined || day === undefined) return undefined;
  if (hour === undefined || minute === undefined || second === undefined) return undefined;
  // Years before 1000 are no token server's clock; excluding them also avoids Date.UTC's 0-99 => 19xx rule.
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  const ms = m[7] !== undefined ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}
