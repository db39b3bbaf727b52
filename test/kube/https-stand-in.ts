/**
 * The HTTPS side every stand-in apiserver shares: a server on 127.0.0.1:0 with the test CA's
 * certificate, that ignores clients' TLS errors (tests make bad clients on purpose) and closes
 * every open connection when it stops.
 */
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import { closeServer, listenLoopback } from '../helpers/ports.js';

/** A listening stand-in: its port, its base URL, and how to stop it. */
export interface HttpsStandIn {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts `handler` over HTTPS on a free loopback port. */
export async function startHttpsStandIn(tls: { certPem: string; keyPem: string }, handler: http.RequestListener): Promise<HttpsStandIn> {
  const sockets = new Set<net.Socket>();
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  const port = await listenLoopback(server);
  return { port, url: `https://127.0.0.1:${port}`, close: () => closeServer(server, sockets) };
}
