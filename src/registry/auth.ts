/** Transport layer: registry authentication (anonymous, Basic, and the Bearer token flow). */
import { createHash } from 'node:crypto';
import { OciError } from '../base/errors.js';
import { LruCache } from '../base/lru.js';
import { basicChallenge, bearerChallenge, parseTokenResponse, parseWwwAuthenticate } from '../oci/challenge.js';
import type { Credential } from '../oci/docker-config.js';
import { readBounded, responseError } from './response-error.js';
import { headerValues } from './transport.js';
import type { Transport, TransportRequest, TransportResponse } from './transport.js';

/** A token answer larger than this is refused (real ones, x5c chains included, are a few KiB). */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Origins whose auth challenge is remembered, and tokens kept: bounds on what users can make us hold. */
export const MAX_CACHED_CHALLENGES = 256;
export const MAX_CACHED_TOKENS = 1024;
/** A cached token is dropped this long before it expires, so it never expires in flight. */
export const TOKEN_EXPIRY_MARGIN_MS = 10_000;

/** What the auth layer needs to know about a request beyond the transport's fields. */
export interface AuthRequest extends TransportRequest {
  /** Credential for the registry being contacted, if any. */
  readonly credential?: Credential;
}

/**
 * Decides whether the token realm a registry's challenge named may be contacted (registry/policy.ts,
 * `checkRealm`); throws POLICY_DENIED if not, and returns whether the token request skips the
 * address check. `registry` is the URL whose answer named the realm.
 */
export type RealmCheck = (realm: URL, registry: URL) => boolean;

/** Options of the auth layer. */
export interface AuthOptions {
  /** Policy for token realms (an http realm only for insecure hosts, or a plain registry's own host). */
  readonly checkRealm: RealmCheck;
  readonly now?: () => number;
  /** Called once per token actually fetched (metrics, tests). */
  readonly onTokenFetch?: (realm: string) => void;
}

type KnownChallenge = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string };

const BASIC: KnownChallenge = { scheme: 'basic' };

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** Short stable fingerprint of a credential, so tokens fetched with one are never used for another. */
function credentialKey(credential: Credential | undefined): string {
  if (!credential) return 'anonymous';
  const material = credential.kind === 'basic' ? `b:${credential.username}:${credential.password}` : `i:${credential.token}`;
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}

function basicHeader(credential: Credential): string | undefined {
  if (credential.kind !== 'basic') return undefined;
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
}

/** The auth layer with its caches (challenge per origin, token per realm/service/scope/credential). */
export class Authenticator {
  // Bounded: references (hence origins and scopes) come from users, and each token is up to 16 KiB.
  private readonly challenges = new LruCache<string, KnownChallenge>(MAX_CACHED_CHALLENGES);
  private readonly tokens = new LruCache<string, CachedToken>(MAX_CACHED_TOKENS);
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private readonly now: () => number;

  /** `inner` carries token requests (retries and redirects, no auth); `options` the realm policy. */
  constructor(
    private readonly inner: Transport,
    private readonly options: AuthOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The auth layer as a transport over `next`. */
  transport(next: Transport): (req: AuthRequest) => Promise<TransportResponse> {
    /*
     * The handshake, per request:
     * 1. If this origin's challenge is known, authenticate up front: Basic header, or a Bearer
     *    token for (realm, service, scope, credential) from the cache or fetched once. With no
     *    challenge known yet, a Basic credential for the host is sent as is.
     * 2. Send. Anything but a 401 from the same origin is the answer.
     * 3. On 401, read the challenge and remember it for the origin. Basic: retry once with the
     *    credential unless it was already sent. Bearer: drop the token that was refused, fetch
     *    one for the challenge's scope, retry once. A second 401 is the answer (UNAUTHORIZED).
     */
    return async (req) => {
      const origin = req.url.origin;
      // Basic credentials configured for this host are sent at once: the registry they were
      // written for gains a round-trip, and a Bearer registry ignores them and challenges anyway.
      const known = this.challenges.get(origin) ?? (req.credential?.kind === 'basic' ? BASIC : undefined);
      const first = known ? await this.authorize(req, known, req.scope) : undefined;
      const res = await next(first ? withAuthorization(req, first) : req);
      if (res.status !== 401 || res.url.origin !== origin) return res;

      const challenge = this.learn(origin, res);
      if (!challenge) return res;
      if (challenge.scheme === 'basic') {
        if (first !== undefined || !req.credential || req.credential.kind !== 'basic') return res;
        await discard(res);
        return next(withAuthorization(req, basicHeader(req.credential)!));
      }
      const scope = challengeScope(res) ?? req.scope;
      if (first !== undefined) this.tokens.delete(this.tokenKey(challenge, scope, req.credential));
      await discard(res);
      const retry = await this.authorize(req, challenge, scope);
      return next(retry ? withAuthorization(req, retry) : req);
    };
  }

  private learn(origin: string, res: TransportResponse): KnownChallenge | undefined {
    const challenges = parseWwwAuthenticate(headerValues(res, 'www-authenticate'));
    const bearer = bearerChallenge(challenges);
    let known: KnownChallenge | undefined;
    if (bearer) known = { scheme: 'bearer', realm: bearer.realm, ...(bearer.service !== undefined ? { service: bearer.service } : {}) };
    else if (basicChallenge(challenges)) known = { scheme: 'basic' };
    if (known) this.challenges.set(origin, known);
    return known;
  }

  private tokenKey(
    challenge: KnownChallenge & { scheme: 'bearer' },
    scope: string | undefined,
    credential: Credential | undefined,
  ): string {
    return JSON.stringify([challenge.realm, challenge.service ?? '', scope ?? '', credentialKey(credential)]);
  }

  private async authorize(req: AuthRequest, challenge: KnownChallenge, scope: string | undefined): Promise<string | undefined> {
    if (challenge.scheme === 'basic') return req.credential ? basicHeader(req.credential) : undefined;
    const key = this.tokenKey(challenge, scope, req.credential);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt - TOKEN_EXPIRY_MARGIN_MS > this.now()) return `Bearer ${cached.token}`;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.fetchToken(req, challenge, scope).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const token = await pending;
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  private async fetchToken(
    req: AuthRequest,
    challenge: { realm: string; service?: string },
    scope: string | undefined,
  ): Promise<CachedToken> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw new OciError('UNAUTHORIZED', `${req.url.host} named an invalid token realm`);
    }
    const addressExempt = this.options.checkRealm(realm, req.url);
    const credential = req.credential;
    let tokenReq: TransportRequest;
    if (credential?.kind === 'identityToken') {
      // docker's OAuth2 flow: an identity token is a refresh token, exchanged by POST.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.token, client_id: 'camel-oci' });
      if (challenge.service) form.set('service', challenge.service);
      if (scope) form.set('scope', scope);
      tokenReq = {
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        signal: req.signal,
        deadline: req.deadline,
        ...(addressExempt ? { addressExempt } : {}),
      };
    } else {
      const url = new URL(realm);
      if (challenge.service) url.searchParams.set('service', challenge.service);
      // One `scope` parameter per scope: the token spec defines repeated parameters for GET.
      for (const one of (scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', one);
      const auth = credential ? basicHeader(credential) : undefined;
      tokenReq = {
        method: 'GET',
        url,
        headers: auth ? { authorization: auth } : {},
        signal: req.signal,
        deadline: req.deadline,
        ...(addressExempt ? { addressExempt } : {}),
      };
    }
    const res = await this.inner(tokenReq);
    if (res.status !== 200) {
      const err = await responseError(res, 'token', `token request to ${realm.host} for ${req.url.host}`);
      if (res.status === 401 || res.status === 403) {
        throw new OciError(
          'UNAUTHORIZED',
          `${req.url.host}: the token service ${realm.host} refused the credentials (HTTP ${res.status}); check the registry credentials`,
          {
            context: { host: req.url.host, realm: realm.host },
          },
        );
      }
      throw err;
    }
    this.options.onTokenFetch?.(realm.origin);
    const text = await readBounded(res.body, MAX_TOKEN_RESPONSE_BYTES + 1);
    if (text.length > MAX_TOKEN_RESPONSE_BYTES) {
      throw new OciError('UNAUTHORIZED', `token service ${realm.host} answered more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new OciError('UNAUTHORIZED', `token service ${realm.host} did not answer JSON`);
    }
    return parseTokenResponse(json, this.now());
  }
}

function withAuthorization<T extends TransportRequest>(req: T, value: string): T {
  return { ...req, headers: { ...req.headers, authorization: value } };
}

function challengeScope(res: TransportResponse): string | undefined {
  return bearerChallenge(parseWwwAuthenticate(headerValues(res, 'www-authenticate')))?.scope;
}

async function discard(res: TransportResponse): Promise<void> {
  await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
}
