/**
 * The undici base transport (the webhook's and the resolve command's): the policy-checking
 * connector, the connection pool and one undici round-trip. Kept apart from transport.ts so the
 * fetcher, which uses node:http, never loads undici.
 */
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { LookupAddress } from 'node:dns';
import { Agent, buildConnector, Client, request as undiciRequest } from 'undici';
import type { Dispatcher } from 'undici';
import { OciError } from '../base/errors.js';
import { abortError, DEFAULT_TIMEOUTS, MAX_ADDRESSES_TRIED, networkError, USER_AGENT } from './transport.js';
import type { AddressCheck, Connector, LookupAll, Transport, TransportTimeouts } from './transport.js';

/** Connect failures after which the next address of the name is worth trying. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/**
 * A connector that resolves the host itself, checks every address against policy, and only then
 * connects to a checked address. Checking inside the connector means every connection (first
 * request, token realm, each redirect hop, each retry) is checked after DNS resolution, and a
 * DNS answer cannot change between the check and the connect (no rebinding window).
 */
export function policyConnector(options: { lookup: LookupAll; check: AddressCheck; base: Connector; exempt?: boolean }): Connector {
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
        options.check(hostname, port, list, options.exempt);
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

/** The connections' options of an agent: timeouts and the connector (TLS context, policy check). */
function connectionOptions(options: AgentOptions, exempt: boolean) {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  // One context for every connection: given `ca` directly, Node would parse the whole trust store
  // (the public roots and ours) again for each TLS connection, tens of milliseconds each.
  const tlsCa =
    options.ca && options.ca.length > 0 ? { secureContext: createSecureContext({ ca: [...rootCertificates, ...options.ca] }) } : {};
  const base = options.connector ?? buildConnector({ timeout: timeouts.connectMs, ...tlsCa });
  return {
    connect: policyConnector({ lookup: options.lookup, check: options.check, base, exempt }),
    connectTimeout: timeouts.connectMs,
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
  };
}

/** Builds the undici Agent every request goes through. */
export function createAgent(options: AgentOptions): Agent {
  return new Agent({ ...connectionOptions(options, false), keepAliveTimeout: 30_000, connections: options.connections ?? 32 });
}

/**
 * Opens one-request clients whose connection skips the address check: for a token request the
 * policy exempted (`TransportRequest.addressExempt`), on a connection no other request shares.
 * `baseTransport` destroys each once its response is read.
 */
export function exemptClients(options: AgentOptions): (origin: string) => Client {
  // Made at the first token request that needs one: most registries never do (and a CA bundle's
  // TLS context takes milliseconds to build).
  let connection: ReturnType<typeof connectionOptions> | undefined;
  return (origin) => new Client(origin, { ...(connection ??= connectionOptions(options, true)), pipelining: 1 });
}

/**
 * The innermost transport: one undici round-trip, no redirects followed, errors mapped to codes.
 * A request with `addressExempt` goes through a client of its own from `exempt`, or fails closed
 * through `dispatcher` (checked as any other) when there is none.
 */
export function baseTransport(dispatcher: Dispatcher, exempt?: (origin: string) => Client): Transport {
  return async (req) => {
    if (req.signal.aborted) throw abortError(req);
    const own = req.addressExempt === true && exempt !== undefined ? exempt(req.url.origin) : undefined;
    try {
      const res = await undiciRequest(req.url, {
        dispatcher: own ?? dispatcher,
        method: req.method,
        headers: { 'user-agent': USER_AGENT, ...req.headers },
        ...(req.body !== undefined ? { body: req.body } : {}),
        signal: req.signal,
      });
      if (own) res.body.once('close', () => void own.destroy().catch(() => undefined));
      return { status: res.statusCode, headers: res.headers, body: res.body, url: req.url };
    } catch (err) {
      void own?.destroy().catch(() => undefined);
      throw networkError(err, req);
    }
  };
}
