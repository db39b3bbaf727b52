/**
 * Docker registry credentials: parsing `.dockerconfigjson` / legacy `.dockercfg` text and choosing
 * the credential for a repository the way the kubelet's credential keyring does, so a pull secret
 * means the same to camel-oci as to the kubelet pulling the pod's images. Pure: the caller reads
 * files and Secrets and passes their text in.
 *
 * Sources: docker/cli cli/config/configfile/file.go and types/authconfig.go (fields, `auth`
 * decoding); kubernetes pkg/credentialprovider keyring.go and config.go (key normalization,
 * URLsMatch, Docker Hub fallback).
 */
import { OciError } from '../base/errors.js';

/**
 * A registry credential. Never log one: passwords and tokens are secrets.
 * `identityToken` is an OAuth2 refresh token (docker cli `identitytoken`), exchanged at the token
 * server for access tokens; `username` is kept when the entry had one.
 */
export type Credential =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'identityToken'; readonly token: string; readonly username?: string };

/** One usable entry of a docker config, with its key parsed for matching. */
export interface DockerConfigEntry {
  /** The key as written in the file (log-safe: a registry name, never a secret). */
  readonly key: string;
  /** Lower-cased host of the key; labels may hold `*` globs; IPv6 keeps its brackets. */
  readonly host: string;
  /** Port of the key, '' when none. Must equal the target's port exactly. */
  readonly port: string;
  /** Path prefix of the key ('' when the key names a whole registry), `/v1/` and `/v2/` removed. */
  readonly path: string;
  readonly credential: Credential;
}

/** A parsed docker config: its usable entries in file order, and what was skipped and why. */
export interface DockerConfig {
  /** Where the text came from (file path, `secret ns/name`), used in messages. */
  readonly source: string;
  readonly entries: readonly DockerConfigEntry[];
  /** Log-safe notes on entries or settings that were ignored (never secrets). */
  readonly warnings: readonly string[];
}

/** Which entry credentialFor chose, for log lines ("using KEY from SOURCE"). */
export interface CredentialMatch {
  readonly credential: Credential;
  readonly source: string;
  readonly key: string;
}

/**
 * Largest docker config text we parse. Kubernetes caps a Secret at 1 MiB, and a config.json with
 * hundreds of registries is a few KiB; anything bigger is a mistake or an attack.
 */
export const MAX_DOCKER_CONFIG_CHARS = 1024 * 1024;

/** Docker Hub's names. Credentials under any of them are Docker Hub's (docker cli getAuthConfigKey, kubelet isDefaultRegistryMatch). */
export const DOCKER_HUB_HOSTS: readonly string[] = Object.freeze(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Longest key or source we echo in a message. */
const MAX_SHOWN_CHARS = 120;

/** Fields of an auth entry that must be strings when present (kubelet rejects `{"email": false}`). */
const STRING_FIELDS = ['auth', 'username', 'password', 'identitytoken', 'registrytoken', 'email', 'serveraddress'] as const;

/**
 * Parses docker config text into entries.
 *
 * Shapes: a config.json / `.dockerconfigjson` (`{"auths": {KEY: ENTRY}}`), or the legacy
 * `.dockercfg` (`{KEY: ENTRY}`). The text is config.json-shaped when it has `auths`, `credsStore` or
 * `credHelpers`, or any top-level value that is not an object (`psFormat`, ...); otherwise legacy.
 *
 * An entry's credential: a non-empty `identitytoken` wins (docker uses the OAuth2 flow when one is
 * set); else `auth`, base64 of `user:pass` split at the first `:` (so passwords may contain `:`),
 * overriding `username`/`password`; else those two fields. `email` is ignored. Entries with no
 * credential (docker writes `{}` for registries kept in a credential helper) and entries with only
 * `registrytoken` are skipped with a warning, as are keys that cannot be parsed (the kubelet logs and
 * skips those too). `credsStore` / `credHelpers` are not run (no exec here) and only warned about.
 *
 * Throws OciError `CONFIG_INVALID`, naming `source` and the registry key but never a secret, for
 * text over MAX_DOCKER_CONFIG_CHARS, invalid JSON, a non-object entry, a non-string field, or an
 * `auth` that is not padded standard base64, not UTF-8, or has no `:`.
 */
export function parseDockerConfig(text: string, source = 'docker config'): DockerConfig {
  const src = shown(source);
  if (text.length > MAX_DOCKER_CONFIG_CHARS) {
    throw invalid(`${src} is ${text.length} characters long (limit ${MAX_DOCKER_CONFIG_CHARS}); is it really a docker config?`, src);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text.startsWith('\ufeff') ? text.slice(1) : text);
  } catch (err) {
    // Never echo the parser's message: newer V8 quotes the input, which may hold passwords.
    throw invalid(`${src} is not valid JSON${jsonErrorPlace(text, err)}`, src);
  }
  if (!isObject(doc)) throw invalid(`${src} is not a JSON object`, src);

  const warnings: string[] = [];
  let auths: Record<string, unknown>;
  if (isConfigJsonShape(doc)) {
    const a = doc['auths'];
    if (a === undefined) auths = {};
    else if (isObject(a)) auths = a;
    else throw invalid(`${src}: "auths" is not a JSON object`, src);
    if (typeof doc['credsStore'] === 'string' && doc['credsStore'] !== '') {
      warnings.push(`${src}: credsStore "${shown(doc['credsStore'])}" is ignored; camel-oci reads only credentials written in "auths"`);
    }
    if (isObject(doc['credHelpers']) && Object.keys(doc['credHelpers']).length > 0) {
      warnings.push(`${src}: credHelpers are ignored; camel-oci reads only credentials written in "auths"`);
    }
  } else {
    auths = doc;
  }

  const entries: DockerConfigEntry[] = [];
  for (const [key, value] of Object.entries(auths)) {
    const credential = entryCredential(value, key, src, warnings);
    if (credential === undefined) continue;
    const parsed = parseKey(key);
    if (parsed === undefined) {
      warnings.push(`${src}: registry key "${shown(key)}" is not a host[:port][/path]; entry skipped`);
      continue;
    }
    entries.push(Object.freeze({ key, ...parsed, credential }));
  }
  return Object.freeze({ source, entries: Object.freeze(entries), warnings: Object.freeze(warnings) });
}

/** Reads one entry's credential; undefined (with a warning) when it has none we can use. */
function entryCredential(value: unknown, key: string, src: string, warnings: string[]): Credential | undefined {
  const where = `${src}, registry "${shown(key)}"`;
  if (!isObject(value)) throw invalid(`${where}: entry is not a JSON object`, src, key);
  const fields: Partial<Record<(typeof STRING_FIELDS)[number], string>> = {};
  for (const f of STRING_FIELDS) {
    const v = value[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw invalid(`${where}: field "${f}" is not a string`, src, key);
    fields[f] = v;
  }
  let username = fields.username ?? '';
  let password = fields.password ?? '';
  if (fields.auth !== undefined && fields.auth !== '') {
    [username, password] = decodeAuth(fields.auth, where, src, key);
    if (password.endsWith('\n')) {
      warnings.push(`${where}: the password in "auth" ends with a newline (encoded with "echo" rather than "echo -n"?); it is used as is`);
    }
  }
  if (fields.identitytoken !== undefined && fields.identitytoken !== '') {
    return Object.freeze({ kind: 'identityToken', token: fields.identitytoken, ...(username !== '' ? { username } : {}) });
  }
  if (username !== '' || password !== '') return Object.freeze({ kind: 'basic', username, password });
  if (fields.registrytoken !== undefined && fields.registrytoken !== '') {
    warnings.push(`${where}: "registrytoken" is not supported; entry skipped`);
  }
  return undefined;
}

/**
 * Decodes `auth`: padded standard base64 (Go's StdEncoding, which skips CR and LF) of `user:pass`.
 * Trailing NULs are trimmed from the password as docker does. An empty user is allowed, as the
 * kubelet allows it.
 */
function decodeAuth(auth: string, where: string, src: string, key: string): [string, string] {
  const b64 = auth.replace(/[\r\n]/g, '');
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw invalid(`${where}: "auth" is not valid base64 (expected base64 of "username:password")`, src, key);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    throw invalid(`${where}: "auth" does not decode to UTF-8 text`, src, key);
  }
  const colon = text.indexOf(':');
  if (colon < 0) {
    throw invalid(`${where}: "auth" does not decode to "username:password" (no ':' found)`, src, key);
  }
  return [text.slice(0, colon), text.slice(colon + 1).replace(/\0+$/, '')];
}

/** Parsed form of a config key or a lookup target. */
interface HostPortPath {
  readonly host: string;
  readonly port: string;
  readonly path: string;
}

/**
 * Parses a config key as the kubelet's keyring does: an optional http(s) scheme, host, optional
 * port, optional path; a path starting `/v1/` or `/v2/` loses that prefix, and `/` alone counts as
 * none. Hosts are lower-cased (DNS names are case-insensitive; the kubelet compares them as written).
 * Undefined for a key with no host, userinfo, or a non-numeric port.
 */
function parseKey(key: string): HostPortPath | undefined {
  let rest = key.trim();
  const scheme = /^https?:\/\//i.exec(rest);
  if (scheme !== null) rest = rest.slice(scheme[0].length);
  // Like url.Parse, a query or fragment is not part of the path.
  rest = rest.replace(/[?#].*$/s, '');
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  let path = slash < 0 ? '' : rest.slice(slash);
  const hp = splitAuthority(authority);
  if (hp === undefined) return undefined;
  if (path.startsWith('/v1/') || path.startsWith('/v2/')) path = path.slice(3);
  if (path === '/') path = '';
  return { ...hp, path };
}

/** Splits `host[:port]` / `[v6]:port`; undefined when malformed. */
function splitAuthority(authority: string): { host: string; port: string } | undefined {
  if (authority === '' || authority.includes('@') || /\s/.test(authority)) return undefined;
  let host: string;
  let port = '';
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return undefined;
    host = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return undefined;
      port = after.slice(1);
    }
  } else {
    const parts = authority.split(':');
    if (parts.length > 2) return undefined;
    host = parts[0] as string;
    port = parts[1] ?? '';
  }
  if (host === '' || (port !== '' && !/^[0-9]+$/.test(port))) return undefined;
  return { host: host.toLowerCase(), port };
}

/**
 * Returns the credential for `domain/repository`, or undefined when no entry matches.
 * See matchCredential for the matching and precedence rules.
 */
export function credentialFor(configs: readonly DockerConfig[], domain: string, repository: string): Credential | undefined {
  return matchCredential(configs, domain, repository)?.credential;
}

/**
 * Finds the entry whose credential applies to `domain/repository` (domain `host[:port]`, as a
 * parsed reference gives it; repository may be '' for registry-wide requests).
 *
 * An entry matches (kubelet URLsMatch) when its port equals the target's exactly (both may be
 * empty), its host has as many `.`-separated labels as the target's and each label glob-matches
 * (`*` is any run of characters within one label), and the target path
 * `/repository` starts with the entry's path as a plain string (so `host/pong` also matches
 * `host/pongz`, as in the kubelet). For a Docker Hub domain, an entry matches if it matches under
 * any of DOCKER_HUB_HOSTS.
 *
 * The most specific match wins: the longest path; then a host without globs over one with; then
 * more literal characters in the host. Equally specific matches go to the earliest config in
 * `configs` (put the pod's pull secrets in their listed order, then the webhook's own config, to
 * let the pod's win), then to the earlier entry in that config. The kubelet instead tries every
 * match in reverse lexicographic key order until a pull succeeds; we pick one and say which.
 */
export function matchCredential(configs: readonly DockerConfig[], domain: string, repository: string): CredentialMatch | undefined {
  const target = splitAuthority(domain.trim());
  if (target === undefined) return undefined;
  const targetPath = repository === '' ? '' : `/${repository}`;
  const hosts = DOCKER_HUB_HOSTS.includes(target.host) && target.port === '' ? DOCKER_HUB_HOSTS : [target.host];

  let best: { match: CredentialMatch; rank: readonly number[] } | undefined;
  for (const config of configs) {
    for (const entry of config.entries) {
      if (entry.port !== target.port || !targetPath.startsWith(entry.path)) continue;
      if (!hosts.some((h) => hostMatches(entry.host, h))) continue;
      const rank = specificity(entry);
      // Strictly greater only: on a tie the earlier config / entry keeps the place.
      if (best === undefined || compareRank(rank, best.rank) > 0) {
        best = { match: Object.freeze({ credential: entry.credential, source: config.source, key: entry.key }), rank };
      }
    }
  }
  return best?.match;
}

/** Rank of a matching entry; compared element by element, higher is more specific. */
function specificity(entry: DockerConfigEntry): readonly number[] {
  const wildcards = (entry.host.match(/\*/g) ?? []).length;
  // Exact hosts that match one target are equally specific, whatever their length (Docker Hub's
  // aliases differ in length); among globs, more literal characters pin the host down more.
  return [entry.path.length, wildcards === 0 ? 1 : 0, wildcards === 0 ? 0 : entry.host.length - wildcards];
}

function compareRank(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Label-wise glob match of a key host against a target host (kubelet: filepath.Match per label). */
function hostMatches(glob: string, host: string): boolean {
  const g = glob.split('.');
  const h = host.split('.');
  if (g.length !== h.length) return false;
  return g.every((label, k) => globMatch(label, h[k] as string));
}

/**
 * Matches one label against a pattern where `*` is any run of characters and everything else is
 * literal. filepath.Match's `?`, `[...]` and `\` cannot reach it: in a key, `?` starts a URL query
 * (for the kubelet's url.Parse too) and the others cannot appear in a host name. Greedy with one
 * backtrack point, so never exponential.
 */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** config.json shape: see parseDockerConfig. */
function isConfigJsonShape(doc: Record<string, unknown>): boolean {
  if (Object.hasOwn(doc, 'auths') || Object.hasOwn(doc, 'credsStore') || Object.hasOwn(doc, 'credHelpers')) return true;
  return Object.values(doc).some((v) => !isObject(v));
}

function shown(s: string): string {
  return s.length > MAX_SHOWN_CHARS ? `${s.slice(0, MAX_SHOWN_CHARS)}...` : s;
}

function invalid(message: string, source: string, key?: string): OciError {
  return new OciError('CONFIG_INVALID', message, {
    context: { source, ...(key !== undefined ? { registry: shown(key) } : {}) },
  });
}

/** " (line L, column C)" from a JSON.parse error's position, or '' when the engine gave none. */
function jsonErrorPlace(text: string, err: unknown): string {
  const m = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  if (m === null) return text.trim() === '' ? ' (it is empty)' : '';
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}
