/**
 * The registry transport: small functions of one shape, `(req) => Promise<res>`, composed by the
 * client. This module holds the shape, the base undici round-trip and the policy-checking
 * connector; auth, retry and redirect live in their own modules.
 */
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { LookupAddress } from 'node:dns';
import { Agent, buildConnector, errors as undiciErrors, request as undiciRequest } from 'undici';
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { CamelOciError, OciError } from '../errors.js';

/** One HTTP request as the transport layers pass it down. */
export interface TransportRequest {
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Aborts the request (the caller's deadline). */
  readonly signal: AbortSignal;
  /** Registry scope the request needs (`repository:acme/deps:pull`), for the Bearer flow. */
  readonly scope?: string;
  /** Absolute time (ms since epoch) after which nothing may be started or waited for. */
  readonly deadline: number;
}

/** One HTTP response. The body must be consumed or discarded by whoever takes it. */
export interface TransportResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Readable & { dump(opts?: { limit: number }): Promise<void> };
  /** URL that answered (after redirects). */
  readonly url: URL;
}

/** The shape every transport layer has. */
export type Transport = (req: TransportRequest) => Promise<TransportResponse>;

/** DNS lookup with `all: true` semantics; injectable so tests never resolve or reach real hosts. */
export type LookupAll = (hostname: string) => Promise<LookupAddress[]>;

/** Decides whether a host may be contacted at the given addresses; throws POLICY_DENIED if not. */
export type AddressCheck = (hostname: string, port: number, addresses: readonly LookupAddress[]) => void;

/** Connector as undici calls it. */
export type Connector = buildConnector.connector;

/** Timeouts of the base transport, in milliseconds. */
export interface TransportTimeouts {
  readonly connectMs: number;
  readonly headersMs: number;
  readonly bodyMs: number;
}

/** Defaults: a registry that takes longer than this to connect or start answering is treated as down. */
export const DEFAULT_TIMEOUTS: TransportTimeouts = { connectMs: 5_000, headersMs: 10_000, bodyMs: 15_000 };

/** Reads a header as one string (first value when repeated). */
export function header(res: Pick<TransportResponse, 'headers'>, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a header as all of its values. */
export function headerValues(res: Pick<TransportResponse, 'headers'>, name: string): string[] {
  const v = res.headers[name.toLowerCase()];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Addresses of one name tried at most before giving up on a connection. */
export const MAX_ADDRESSES_TRIED = 4;
/** Connect failures after which the next address of the name is worth trying. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/**
 * A connector that resolves the host itself, checks every address against policy, and only then
 * connects to a checked address. Checking inside the connector means every connection (first
 * request, token realm, each redirect hop, each retry) is checked after DNS resolution, and a
 * DNS answer cannot change between the check and the connect (no rebinding window).
 */
export function policyConnector(options: { lookup: LookupAll; check: AddressCheck; base: Connector }): Connector {
  return (opts, callback) => {
    const hostname = opts.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    const literal = isIP(hostname);
    const addresses: Promise<LookupAddress[]> = literal
      ? Promise.resolve([{ address: hostname, family: literal }])
      : options.lookup(hostname);
    addresses
      .then((list) => {
        if (list.length === 0) throw new OciError('UNAVAILABLE', `cannot resolve host ${hostname}: no addresses`, { retryable: true });
        options.check(hostname, port, list);
        // Every address passed the check; try them in order, as far as MAX_ADDRESSES_TRIED, so a
        // name whose first address (say an unreachable IPv6 one) fails still connects.
        const candidates = list.slice(0, MAX_ADDRESSES_TRIED);
        const attempt = (i: number): void => {
          options.base(
            {
              ...opts,
              hostname: candidates[i]!.address,
              // TLS verifies the certificate against the name the user asked for, not the address.
              ...(literal ? {} : { servername: opts.servername ?? hostname }),
            },
            (err, socket) => {
              if (err && i + 1 < candidates.length && UNREACHABLE_CODES.has((err as NodeJS.ErrnoException).code ?? '')) attempt(i + 1);
              else if (err) callback(err, null);
              else callback(null, socket!);
            },
          );
        };
        attempt(0);
      })
      .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null));
  };
}

/** Options of the base transport's connection pool. */
export interface AgentOptions {
  readonly ca?: readonly string[];
  readonly lookup: LookupAll;
  readonly check: AddressCheck;
  readonly timeouts?: TransportTimeouts;
  /** Replaces the real TCP/TLS connector (tests). */
  readonly connector?: Connector;
  /** Connections kept per origin. */
  readonly connections?: number;
}

/** Builds the undici Agent every request goes through. */
export function createAgent(options: AgentOptions): Agent {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  // One context for every connection: given `ca` directly, Node would parse the whole trust store
  // (the public roots and ours) again for each TLS connection, tens of milliseconds each.
  const tlsCa = options.ca && options.ca.length > 0 ? { secureContext: createSecureContext({ ca: [...rootCertificates, ...options.ca] }) } : {};
  const base = options.connector ?? buildConnector({ timeout: timeouts.connectMs, ...tlsCa });
  return new Agent({
    connect: policyConnector({ lookup: options.lookup, check: options.check, base }),
    connectTimeout: timeouts.connectMs,
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
    keepAliveTimeout: 30_000,
    connections: options.connections ?? 32,
  });
}

/** The innermost transport: one undici round-trip, no redirects followed, errors mapped to codes. */
export function baseTransport(dispatcher: Dispatcher): Transport {
  return async (req) => {
    if (req.signal.aborted) throw abortError(req);
    try {
      const res = await undiciRequest(req.url, {
        dispatcher,
        method: req.method,
        headers: { 'user-agent': USER_AGENT, ...req.headers },
        ...(req.body !== undefined ? { body: req.body } : {}),
        signal: req.signal,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body, url: req.url };
    } catch (err) {
      throw networkError(err, req);
    }
  };
}

/** User-Agent sent to registries. */
export const USER_AGENT = 'camel-oci/0.1';

/** Maps an abort to TIMEOUT (our deadlines are the only abort source). */
export function abortError(req: Pick<TransportRequest, 'url' | 'signal'>): CamelOciError {
  const reason = req.signal.reason;
  if (reason instanceof CamelOciError) return reason;
  return new OciError('TIMEOUT', `request to ${req.url.host} did not finish before the deadline`, {
    retryable: false,
    context: { host: req.url.host },
  });
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNREFUSED', 'ECONNABORTED', 'EAI_AGAIN']);
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

/** Maps a network-level failure to a coded error; keeps coded errors (policy) as they are. */
export function networkError(err: unknown, req: Pick<TransportRequest, 'url' | 'signal'>): CamelOciError {
  // Coded errors raised inside the connector (policy refusals) pass through as they are.
  if (err instanceof CamelOciError) return err;
  if (req.signal.aborted) return abortError(req);
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? '';
  const causeCode = e.cause?.code ?? '';
  const host = req.url.host;
  if (e.cause instanceof CamelOciError) return e.cause;
  if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new OciError('TIMEOUT', `connecting to ${host} timed out`, { retryable: true, context: { host }, cause: err });
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new OciError('TIMEOUT', `${host} stopped answering (${code})`, { retryable: true, context: { host }, cause: err });
  }
  if (TLS_CODE.test(code) || TLS_CODE.test(causeCode)) {
    return new OciError(
      'TLS_ERROR',
      `TLS with ${host} failed (${e.message ?? code}); give its CA with --ca-file, or list it with --insecure-registry if it serves plain HTTP`,
      { context: { host }, cause: err },
    );
  }
  if (RESET_CODES.has(code) || RESET_CODES.has(causeCode)) {
    return new OciError('UNAVAILABLE', `connection to ${host} failed (${code || causeCode})`, { retryable: true, context: { host }, cause: err });
  }
  if (code === 'ENOTFOUND') {
    return new OciError('UNAVAILABLE', `host ${host} not found in DNS`, { retryable: false, context: { host }, cause: err });
  }
  return new OciError('UNAVAILABLE', `request to ${host} failed: ${e.message ?? String(err)}`, {
    retryable: true,
    context: { host },
    cause: err,
  });
}
