/**
 * A Bearer token issuer for the test registry (Docker token auth as distribution 2.8 verifies it):
 * an HTTPS server on 127.0.0.1:0 that checks Basic credentials, grants the allowed subset of the
 * requested scopes and answers ES256 JWTs whose `x5c` certificate is in the registry's
 * `rootcertbundle`. Tests can count its requests, shorten token lifetimes and make it fail.
 */
import { X509Certificate, randomUUID, sign } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import { closeServer, listenLoopback, LOOPBACK } from './ports.js';

/** Default `service` (the registry's challenge `service=` and the only JWT `aud` it accepts). */
export const DEFAULT_TOKEN_SERVICE = 'harness-registry';
/** Default `issuer` (the only JWT `iss` the registry accepts). */
export const DEFAULT_TOKEN_ISSUER = 'harness-issuer';
/** Default token lifetime in seconds, as Docker Hub's issuer answers. */
export const DEFAULT_EXPIRES_IN = 300;
/** Path of the token endpoint on the issuer (the realm is `https://127.0.0.1:PORT/token`). */
export const TOKEN_PATH = '/token';

/** One access entry of a JWT `access` claim (and of a parsed `scope`). */
export interface Access {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** What the issuer knows when deciding a grant: who asked (undefined when anonymous) and for what. */
export interface GrantRequest {
  readonly user: string | undefined;
  readonly scope: Access;
  readonly anonymousPull: boolean;
}

/** One request the issuer answered, for assertions. */
export interface TokenRequestRecord {
  readonly method: string;
  readonly path: string;
  /** `account=` query parameter as sent. */
  readonly account: string | undefined;
  /** `service=` query parameter as sent. */
  readonly service: string | undefined;
  /** Authenticated user, when valid Basic credentials were sent. */
  readonly user: string | undefined;
  /** True when an Authorization header was sent at all (valid or not). */
  readonly sentCredentials: boolean;
  /** Every requested scope, parsed (repeated and space-separated `scope` parameters alike). */
  readonly scopes: readonly Access[];
  /** What the token grants (empty on failure). */
  readonly granted: readonly Access[];
  readonly status: number;
}

/** Options of startTokenIssuer. */
export interface TokenIssuerOptions {
  /** Server certificate and key (PEM) for the HTTPS listener. */
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  /** Self-signed EC P-256 certificate and key (PEM) that sign the JWTs (x5c, ES256). */
  readonly signer: { readonly certPem: string; readonly keyPem: string };
  /** user -> password accepted as Basic credentials. */
  readonly users?: Readonly<Record<string, string>>;
  /** Grant `pull` to anonymous requests (default true). */
  readonly anonymousPull?: boolean;
  /** `expires_in` of answers, seconds (default 300). */
  readonly expiresIn?: number;
  /**
   * JWT `exp` minus now, seconds (default: expiresIn). Negative values mint already expired tokens;
   * the registry allows 60 s of leeway, so use -120 or less to see it refuse them.
   */
  readonly jwtLifetimeSeconds?: number;
  readonly service?: string;
  readonly issuer?: string;
  /** Replaces the default grant policy: returns the granted actions of one requested scope. */
  readonly grant?: (request: GrantRequest) => readonly string[];
}

/** A running token issuer. */
export interface TokenIssuer {
  /** The realm: `https://127.0.0.1:PORT/token`. */
  readonly url: string;
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  readonly service: string;
  readonly issuer: string;
  /** Number of HTTP requests the issuer received (any path, failed ones too). */
  requestCount(): number;
  /** Every request answered so far, oldest first. */
  requests(): readonly TokenRequestRecord[];
  /** Forgets the request count and records. */
  resetRequests(): void;
  /** Answers the next `count` requests with `status` and an error body instead of a token. */
  failNext(count?: number, status?: number): void;
  /** Answers every request with `status` until recover(). */
  failAlways(status?: number): void;
  /** Stops failing. */
  recover(): void;
  /** Changes `expires_in` (and the JWT lifetime, default the same) for tokens issued from now on. */
  setExpiresIn(seconds: number, jwtLifetimeSeconds?: number): void;
  /** Changes whether anonymous requests get `pull`. */
  setAnonymousPull(allowed: boolean): void;
  /** Mints a token directly (no request counted); claims override the defaults (iss, aud, exp...). */
  mint(access: readonly Access[], claims?: Readonly<Record<string, unknown>>): string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Default policy: anonymous gets pull (when allowed); a user gets pull and push, and the catalog. */
export function defaultGrant({ user, scope, anonymousPull }: GrantRequest): readonly string[] {
  let allowed: readonly string[];
  if (scope.type === 'repository') {
    allowed = user !== undefined ? ['pull', 'push'] : anonymousPull ? ['pull'] : [];
  } else if (scope.type === 'registry' && scope.name === 'catalog') {
    allowed = user !== undefined ? ['*'] : [];
  } else {
    allowed = [];
  }
  return scope.actions.filter((a) => allowed.includes(a));
}

/**
 * Parses `scope` parameter values: each may hold several space-separated scopes
 * (`repository:acme/deps:pull,push repository:acme/other:pull`). The type is up to the first
 * colon, the actions follow the last one, the name is in between. Malformed items are skipped.
 */
export function parseScopes(values: readonly string[]): Access[] {
  const scopes: Access[] = [];
  for (const value of values) {
    for (const item of value.split(' ')) {
      if (item === '') continue;
      const first = item.indexOf(':');
      const last = item.lastIndexOf(':');
      if (first < 0 || last === first) continue;
      scopes.push({
        type: item.slice(0, first),
        name: item.slice(first + 1, last),
        actions: item
          .slice(last + 1)
          .split(',')
          .filter((a) => a !== ''),
      });
    }
  }
  return scopes;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^basic\s+(\S+)$/i.exec(header.trim());
  if (match === null || match[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Merges the actions granted for the same type+name so the `access` claim lists each resource once. */
function mergeAccess(entries: readonly Access[]): Access[] {
  const byKey = new Map<string, { type: string; name: string; actions: Set<string> }>();
  for (const e of entries) {
    const key = `${e.type}\u0000${e.name}`;
    const found = byKey.get(key) ?? { type: e.type, name: e.name, actions: new Set<string>() };
    for (const a of e.actions) found.actions.add(a);
    byKey.set(key, found);
  }
  return [...byKey.values()].filter((e) => e.actions.size > 0).map((e) => ({ type: e.type, name: e.name, actions: [...e.actions] }));
}

/** Starts a token issuer on https://127.0.0.1:0. */
export async function startTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  const users = { ...(options.users ?? {}) };
  const service = options.service ?? DEFAULT_TOKEN_SERVICE;
  const issuerName = options.issuer ?? DEFAULT_TOKEN_ISSUER;
  const grant = options.grant ?? defaultGrant;
  let anonymousPull = options.anonymousPull ?? true;
  let expiresIn = options.expiresIn ?? DEFAULT_EXPIRES_IN;
  let jwtLifetime = options.jwtLifetimeSeconds ?? expiresIn;
  let failCount = 0;
  let failStatus = 500;
  let failForever = false;
  let count = 0;
  let records: TokenRequestRecord[] = [];

  // distribution reads the signing key from the first x5c certificate (standard base64 DER, not
  // base64url) and accepts exactly ES256 for a P-256 key, as raw r||s (see registry-token-auth.md).
  const x5c = [new X509Certificate(options.signer.certPem).raw.toString('base64')];
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c }));

  function mint(access: readonly Access[], claims: Readonly<Record<string, unknown>> = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const body = {
      iss: issuerName,
      sub: '',
      aud: service, // must be a JSON string: an array fails decoding in distribution 2.8
      exp: now + jwtLifetime,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
      ...claims,
    };
    const signingInput = `${header}.${base64url(JSON.stringify(body))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key: options.signer.keyPem, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${base64url(signature)}`;
  }

  function answer(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    count++;
    const url = new URL(req.url ?? '/', `https://${LOOPBACK}`);
    const scopes = parseScopes(url.searchParams.getAll('scope'));
    const credentials = parseBasic(req.headers.authorization);
    const base = {
      method: req.method ?? '',
      path: url.pathname,
      account: url.searchParams.get('account') ?? undefined,
      service: url.searchParams.get('service') ?? undefined,
      sentCredentials: req.headers.authorization !== undefined,
      scopes,
    };
    const finish = (status: number, body: unknown, user?: string, granted: readonly Access[] = []): void => {
      records.push({ ...base, user, granted, status });
      answer(res, status, body);
    };

    if (failForever || failCount > 0) {
      if (!failForever) failCount--;
      finish(failStatus, { details: `token issuer told to fail with ${failStatus}` });
      return;
    }
    if (url.pathname !== TOKEN_PATH) {
      finish(404, { details: 'not found' });
      return;
    }
    if (req.method !== 'GET') {
      // Docker token auth (GET with Basic) is what skopeo and our client use; the OAuth2 POST form is not served.
      finish(405, { details: 'only GET is served' });
      return;
    }
    let user: string | undefined;
    if (req.headers.authorization !== undefined) {
      const valid = credentials !== undefined && Object.hasOwn(users, credentials.user) && users[credentials.user] === credentials.password;
      if (!valid) {
        finish(401, { details: 'bad credentials' });
        return;
      }
      user = credentials.user;
    }
    const granted = mergeAccess(
      scopes.map((scope) => ({ type: scope.type, name: scope.name, actions: grant({ user, scope, anonymousPull }) })),
    );
    const token = mint(granted, { sub: user ?? '' });
    finish(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }, user, granted);
  }

  const sockets = new Set<net.Socket>();
  const server = https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (req, res) => {
    // Drain any body so keep-alive connections stay usable.
    req.resume();
    req.on('end', () => handle(req, res));
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listenLoopback(server);
  const host = `${LOOPBACK}:${port}`;

  return {
    url: `https://${host}${TOKEN_PATH}`,
    host,
    service,
    issuer: issuerName,
    requestCount: () => count,
    requests: () => [...records],
    resetRequests: () => {
      count = 0;
      records = [];
    },
    failNext: (n = 1, status = 500) => {
      failCount = n;
      failStatus = status;
    },
    failAlways: (status = 500) => {
      failForever = true;
      failStatus = status;
    },
    recover: () => {
      failForever = false;
      failCount = 0;
    },
    setExpiresIn: (seconds, lifetime) => {
      expiresIn = seconds;
      jwtLifetime = lifetime ?? seconds;
    },
    setAnonymousPull: (allowed) => {
      anonymousPull = allowed;
    },
    mint,
    close: () => closeServer(server, sockets),
  };
}
