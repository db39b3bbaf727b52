/**
 * The registry transport: small functions of one shape, `(req) => Promise<res>`, composed by the
 * client. This module holds the shape and the error mapping, and imports no HTTP client: the
 * undici base lives in undici-transport.ts, the node:http one (the fetcher's) in node-transport.ts;
 * auth, retry and redirect live in their own modules.
 */
import type { LookupAddress } from 'node:dns';
import type { buildConnector } from 'undici';
import type { Readable } from 'node:stream';
import { CamelOciError, OciError } from '../base/errors.js';

/** One HTTP request as the transport layers pass it down. */
export interface TransportRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** A whole body in memory, so the auth layer can send it again after a 401 (uploads are bounded). */
  readonly body?: string | Uint8Array;
  /** Aborts the request (the caller's deadline). */
  readonly signal: AbortSignal;
  /** Registry scope the request needs (`repository:acme/deps:pull`), for the Bearer flow. */
  readonly scope?: string;
  /** Absolute time (ms since epoch) after which nothing may be started or waited for. */
  readonly deadline: number;
  /**
   * Set by the auth layer alone, on a token request whose realm stands as its exactly named
   * registry (policy.ts, `checkRealm`): its connection skips the address check as the registry's
   * own do, and is never shared with another request. Dropped on a redirect.
   */
  readonly addressExempt?: boolean;
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
export type AddressCheck = (hostname: string, port: number, addresses: readonly LookupAddress[], exempt?: boolean) => void;

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

/** Error codes of the base transports' own timeouts (undici's names; the node:http transport raises the same). */
export const TIMEOUT_CODES = {
  connect: 'UND_ERR_CONNECT_TIMEOUT',
  headers: 'UND_ERR_HEADERS_TIMEOUT',
  body: 'UND_ERR_BODY_TIMEOUT',
} as const;

/** User-Agent sent to registries. */
export const USER_AGENT = 'camel-oci/0.1';

/**
 * Where a URL connects, as the connectors check it (`AddressCheck`): the host name without IPv6
 * brackets (the URL parser already lower-cased it) and the port, the scheme's default when none.
 */
export function connectTarget(url: URL): { readonly hostname: string; readonly port: number } {
  return { hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80) };
}

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
  if (code === TIMEOUT_CODES.connect) {
    return new OciError('TIMEOUT', `connecting to ${host} timed out`, { retryable: true, context: { host }, cause: err });
  }
  if (code === TIMEOUT_CODES.headers || code === TIMEOUT_CODES.body) {
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
    return new OciError('UNAVAILABLE', `connection to ${host} failed (${code || causeCode})`, {
      retryable: true,
      context: { host },
      cause: err,
    });
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
