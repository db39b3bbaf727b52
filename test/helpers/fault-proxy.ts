/**
 * Network faults on loopback for transport tests: a TCP proxy in front of a test server whose next
 * connections can be truncated, reset or stalled, and a black hole that accepts connections and
 * never answers. Bytes are proxied as they are, so TLS passes through untouched.
 */
import net from 'node:net';
import { closeServer, listenLoopback, LOOPBACK } from './ports.js';

/** Hosts a proxy may forward to: test servers live on loopback only. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** What the proxy does with a connection. */
export type Fault =
  | { readonly kind: 'pass' }
  /** Closes the client socket cleanly (FIN) after `bytes` response bytes. */
  | { readonly kind: 'truncate'; readonly bytes: number }
  /** Resets the client socket (RST) after `bytes` response bytes. */
  | { readonly kind: 'reset'; readonly bytes: number }
  /** Accepts and reads the request, never connects upstream, never answers. */
  | { readonly kind: 'stall' }
  /** Holds the response back for `ms` before forwarding it. */
  | { readonly kind: 'delay'; readonly ms: number };

/** A running fault proxy. */
export interface FaultProxy {
  /** `127.0.0.1:PORT` of the proxy (use it in place of the target's host). */
  readonly host: string;
  readonly port: number;
  /** Forwards every new connection unchanged (the default). */
  passThrough(): void;
  /** The next `connections` connections (default: all until changed) are closed after `bytes` response bytes. */
  truncateAfterBytes(bytes: number, connections?: number): void;
  /** The next `connections` connections (default: all until changed) are reset after `bytes` response bytes. */
  resetAfterBytes(bytes: number, connections?: number): void;
  /** The next `connections` connections (default: all until changed) are accepted and never answered. */
  stall(connections?: number): void;
  /** The next `connections` connections (default: all until changed) get their response `ms` late. */
  delay(ms: number, connections?: number): void;
  /**
   * Destroys every open connection, keeping the listener (a network cut): the next requests open
   * new connections, which meet the current fault.
   */
  cutOpen(): void;
  /** Connections accepted so far. */
  connectionCount(): number;
  /** Connections that got a fault (not pass-through). */
  faultedCount(): number;
  /** Connections open now. */
  openCount(): number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

/** A server that accepts TCP connections and never sends a byte. */
export interface Blackhole {
  readonly host: string;
  readonly port: number;
  connectionCount(): number;
  close(): Promise<void>;
}

function parseTarget(target: string | { host: string; port: number }): { host: string; port: number } {
  if (typeof target !== 'string') return target;
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[|\]$/g, '');
  return { host, port: Number(target.slice(colon + 1)) };
}

/**
 * Starts a TCP proxy on 127.0.0.1:0 in front of `target` (`127.0.0.1:PORT` or {host, port}),
 * which must be a loopback address.
 */
export async function startFaultProxy(target: string | { host: string; port: number }): Promise<FaultProxy> {
  const upstream = parseTarget(target);
  if (!LOOPBACK_HOSTS.has(upstream.host) || !Number.isInteger(upstream.port) || upstream.port <= 0) {
    throw new Error(`startFaultProxy: target must be a loopback host:port, got ${JSON.stringify(target)}`);
  }
  let fault: Fault = { kind: 'pass' };
  let remaining = Infinity;
  let accepted = 0;
  let faulted = 0;
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();

  const set = (next: Fault, connections = Infinity): void => {
    fault = next;
    remaining = connections;
  };
  const take = (): Fault => {
    if (fault.kind === 'pass' || remaining <= 0) return { kind: 'pass' };
    remaining--;
    const chosen = fault;
    if (remaining <= 0) fault = { kind: 'pass' };
    return chosen;
  };
  const keep = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const server = net.createServer((client) => {
    accepted++;
    keep(client);
    clients.add(client);
    client.on('close', () => clients.delete(client));
    const chosen = take();
    if (chosen.kind !== 'pass') faulted++;
    if (chosen.kind === 'stall') {
      client.resume(); // read and drop the request so the client's write completes
      return;
    }
    const up = net.connect(upstream.port, upstream.host);
    keep(up);
    // Set once a fault cut the response: the client's end is then the fault's, not a FIN from here.
    let cut = false;
    client.pipe(up);
    client.on('close', () => up.destroy());
    up.on('close', () => {
      if (!cut && !client.destroyed) client.end();
    });

    if (chosen.kind === 'pass') {
      up.pipe(client);
      return;
    }
    if (chosen.kind === 'delay') {
      up.pause();
      const timer = setTimeout(() => up.pipe(client), chosen.ms);
      client.on('close', () => clearTimeout(timer));
      return;
    }
    let sent = 0;
    up.on('data', (chunk: Buffer) => {
      if (cut) return;
      const room = chosen.bytes - sent;
      if (chunk.length < room) {
        sent += chunk.length;
        client.write(chunk);
        return;
      }
      cut = true;
      const head = chunk.subarray(0, Math.max(0, room));
      sent += head.length;
      up.destroy();
      if (chosen.kind === 'truncate') {
        client.end(head);
      } else {
        // Reset once the head is handed to the kernel, so the client sees the bytes, then RST.
        client.write(head, () => client.resetAndDestroy());
      }
    });
  });
  const port = await listenLoopback(server);

  return {
    host: `${LOOPBACK}:${port}`,
    port,
    passThrough: () => set({ kind: 'pass' }),
    truncateAfterBytes: (bytes, connections) => set({ kind: 'truncate', bytes }, connections),
    resetAfterBytes: (bytes, connections) => set({ kind: 'reset', bytes }, connections),
    stall: (connections) => set({ kind: 'stall' }, connections),
    delay: (ms, connections) => set({ kind: 'delay', ms }, connections),
    cutOpen: () => {
      for (const socket of sockets) socket.destroy();
    },
    connectionCount: () => accepted,
    faultedCount: () => faulted,
    openCount: () => clients.size,
    close: () => closeServer(server, sockets),
  };
}

/** Starts a server on 127.0.0.1:0 that accepts connections, reads them and never answers (for deadline tests). */
export async function startBlackhole(): Promise<Blackhole> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.resume();
  });
  const port = await listenLoopback(server);
  return {
    host: `${LOOPBACK}:${port}`,
    port,
    connectionCount: () => accepted,
    close: () => closeServer(server, sockets),
  };
}
