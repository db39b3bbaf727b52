/**
 * A base transport over node:http / node:https, for the fetcher: it streams blobs with less
 * memory than undici and spares the init container loading undici at all. Same contract as the
 * undici base: one round-trip, no redirects followed, every connection's addresses checked
 * against policy after DNS resolution and before connecting, errors mapped by networkError.
 */
import type { LookupAddress } from 'node:dns';
import type { Agent as HttpAgent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { NetConnectOpts, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { OciError } from '../base/errors.js';
import { abortError, connectTarget, DEFAULT_TIMEOUTS, MAX_ADDRESSES_TRIED, networkError, TIMEOUT_CODES, USER_AGENT } from './transport.js';
import type { AddressCheck, LookupAll, Transport, TransportResponse, TransportTimeouts } from './transport.js';

/** Connections per origin: the fetcher pulls at most `--parallel` (≤ 32) blobs at once. */
export const MAX_SOCKETS_PER_ORIGIN = 32;
/** Idle keep-alive connections are closed after this long (a fetch run lasts seconds). */
export const KEEP_ALIVE_IDLE_MS = 30_000;
/** Bytes of a discarded body read to keep its connection, as undici's `dump` default; past it the connection is closed. */
export const DEFAULT_DUMP_LIMIT = 128 * 1024;

/**
 * Opens a connection as net.connect (`secure` false) or tls.connect would, from their options. The
 * options carry the policy-checking `lookup`, which an opener must use to learn the addresses, as
 * net does: tests inject one that records every connect and never leaves loopback.
 */
export type SocketOpener = (options: NetConnectOpts & ConnectionOptions, secure: boolean) => Duplex;

/** Options of {@link createNodeTransport}. */
export interface NodeTransportOptions {
  readonly lookup: LookupAll;
  readonly check: AddressCheck;
  /** Extra trusted CA certificates (PEM), besides the public roots. */
  readonly ca?: readonly string[];
  readonly timeouts?: TransportTimeouts;
  /** Replaces net.connect / tls.connect (tests); the default opens real TCP and TLS connections. */
  readonly openSocket?: SocketOpener;
}

/** A node:http base transport and the way to close its idle connections. */
export interface NodeTransport {
  readonly transport: Transport;
  close(): void;
}

/**
 * node:http, node:https and node:tls are loaded through CommonJS, and the last two only when a TLS
 * registry is asked: the ES module facade of node:http reads every export, and on Node 24 one of
 * them is the WebSocket client, which loads Node's bundled undici (about a tenth of the CPU of the
 * init container's whole run for a small artifact; bench/RESULTS.md, "Fetch").
 */
const load = createRequire(import.meta.url);
type Http = typeof import('node:http');
type Https = typeof import('node:https');
type Tls = typeof import('node:tls');

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

/** Creates the node:http / node:https base transport with its keep-alive connection pools. */
export function createNodeTransport(options: NodeTransportOptions): NodeTransport {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const pool = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_ORIGIN, timeout: KEEP_ALIVE_IDLE_MS };
  const http = load('node:http') as Http;
  const httpAgent = new http.Agent(pool);
  const open = options.openSocket;
  type Creates = { createConnection: (o: NetConnectOpts & ConnectionOptions) => Duplex };
  if (open) (httpAgent as unknown as Creates).createConnection = (o) => open(o, false);
  const plainClient = { agent: httpAgent, request: http.request };
  type Client = { readonly agent: HttpAgent; readonly request: Https['request'] };
  let tlsClients: { readonly pooled: Client; readonly exempt: Client } | undefined;
  const tlsOnce = (): NonNullable<typeof tlsClients> => {
    if (tlsClients) return tlsClients;
    const httpsModule = load('node:https') as Https;
    const tlsModule = load('node:tls') as Tls;
    // One context for every connection: given `ca` directly, Node would parse the whole trust store
    // (the public roots and ours) again for each TLS connection.
    const tls =
      options.ca && options.ca.length > 0
        ? { secureContext: tlsModule.createSecureContext({ ca: [...tlsModule.rootCertificates, ...options.ca] }) }
        : {};
    const agent = new httpsModule.Agent({ ...pool, ...tls });
    const exempt = new httpsModule.Agent({ keepAlive: false, ...tls });
    if (open) {
      (agent as unknown as Creates).createConnection = (o) => open(o, true);
      (exempt as unknown as Creates).createConnection = (o) => open(o, true);
    }
    tlsClients = { pooled: { agent, request: httpsModule.request }, exempt: { agent: exempt, request: httpsModule.request } };
    return tlsClients;
  };
  // A token request the policy exempted from the address check (`TransportRequest.addressExempt`)
  // gets a connection of its own, never kept for another request.
  const exemptHttpAgent = new http.Agent({ keepAlive: false });
  if (open) (exemptHttpAgent as unknown as Creates).createConnection = (o) => open(o, false);
  const exemptPlainClient = { agent: exemptHttpAgent, request: http.request };

  /** net's `lookup` hook: resolves with the injected lookup, checks every address, then hands them over. */
  const checkedLookup =
    (port: number, exempt: boolean) =>
    (hostname: string, opts: { all?: boolean }, callback: LookupCallback): void => {
      options
        .lookup(hostname)
        .then((list) => {
          if (list.length === 0) throw new OciError('UNAVAILABLE', `cannot resolve host ${hostname}: no addresses`, { retryable: true });
          // Throws POLICY_DENIED before any address is handed to net: nothing unchecked is connected to.
          options.check(hostname, port, list, exempt);
          const candidates = list.slice(0, MAX_ADDRESSES_TRIED);
          // With autoSelectFamily (Node 20's default) net asks for all addresses and tries them in turn.
          if (opts.all) callback(null, candidates);
          else callback(null, candidates[0]!.address, candidates[0]!.family);
        })
        .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), ''));
    };

  const transport: Transport = (req) =>
    new Promise<TransportResponse>((resolve, reject) => {
      if (req.signal.aborted) {
        reject(abortError(req));
        return;
      }
      const https = req.url.protocol === 'https:';
      const exempt = req.addressExempt === true;
      const client = https ? tlsOnce()[exempt ? 'exempt' : 'pooled'] : exempt ? exemptPlainClient : plainClient;
      const { hostname, port } = connectTarget(req.url);
      const literal = isIP(hostname);
      try {
        // An address literal is never looked up, so net would not call the hook: check it here.
        if (literal) options.check(hostname, port, [{ address: hostname, family: literal }], exempt);
      } catch (err) {
        reject(networkError(err, req));
        return;
      }
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
      if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
      const opts: RequestOptions & { servername?: string } = {
        method: req.method,
        hostname,
        port,
        path: `${req.url.pathname}${req.url.search}`,
        headers,
        agent: client.agent,
        ...(literal ? {} : { lookup: checkedLookup(port, exempt) as unknown as RequestOptions['lookup'] }),
        // TLS verifies the certificate against the name asked for (net leaves it unset for literals).
        ...(https && !literal ? { servername: hostname } : {}),
      };
      let settled = false;
      let response: IncomingMessage | undefined;
      const timers = new Set<NodeJS.Timeout>();
      const clearTimers = (): void => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
      };
      const fail = (err: unknown): void => {
        clearTimers();
        req.signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        reject(networkError(err, req));
      };
      const timeout = (code: string, what: string): Error => Object.assign(new Error(`${what} timed out`), { code });
      const onAbort = (): void => {
        const err = abortError(req);
        if (response) response.destroy(err);
        outgoing.destroy(err);
      };
      const outgoing: ClientRequest = client.request(opts);
      const headersTimer = setTimeout(
        () => outgoing.destroy(timeout(TIMEOUT_CODES.headers, 'waiting for response headers')),
        timeouts.connectMs + timeouts.headersMs,
      );
      timers.add(headersTimer);
      outgoing.on('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(() => outgoing.destroy(timeout(TIMEOUT_CODES.connect, 'connecting')), timeouts.connectMs);
        timers.add(connectTimer);
        socket.once('connect', () => {
          clearTimeout(connectTimer);
          timers.delete(connectTimer);
        });
      });
      outgoing.on('error', fail);
      outgoing.on('response', (res: IncomingMessage) => {
        clearTimers();
        response = res;
        settled = true;
        outgoing.off('error', fail);
        // Errors after the headers reach the consumer through the body stream.
        outgoing.on('error', (err) => res.destroy(err));
        const socket = res.socket;
        const onIdle = (): void => {
          res.destroy(timeout(TIMEOUT_CODES.body, 'reading the response body'));
        };
        socket.setTimeout(timeouts.bodyMs);
        socket.on('timeout', onIdle);
        res.once('close', () => {
          socket.off('timeout', onIdle);
          req.signal.removeEventListener('abort', onAbort);
        });
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Object.assign(res, { dump: (o?: { limit: number }) => dump(res, o?.limit ?? DEFAULT_DUMP_LIMIT) }),
          url: req.url,
        });
      });
      req.signal.addEventListener('abort', onAbort, { once: true });
      outgoing.end(req.body);
    });

  return {
    transport,
    close: () => {
      httpAgent.destroy();
      exemptHttpAgent.destroy();
      tlsClients?.pooled.agent.destroy();
      tlsClients?.exempt.agent.destroy();
    },
  };
}

/** Reads and drops a body up to `limit` bytes (its connection then goes back to the pool); past it, closes it. */
function dump(res: IncomingMessage, limit: number): Promise<void> {
  return new Promise((resolve) => {
    if (res.complete || res.destroyed) {
      resolve();
      return;
    }
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) res.destroy();
    });
    res.once('close', () => resolve());
    res.once('end', () => resolve());
    res.once('error', () => resolve());
    res.resume();
  });
}
