/**
 * Registry mirrors for tests: fill a mirror registry from an upstream with skopeo, and a recording
 * HTTP proxy that shows which `Authorization` headers reached a (plain) registry behind it.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { closeServer, LOOPBACK, listenLoopback } from './ports.js';
import { registryFlags, runSkopeo } from './skopeo.js';
import type { StartedRegistry } from './registry.js';

/** Copies `repoAndTag` from `upstream` to `mirror` byte for byte (`--preserve-digests`), as an operator fills a mirror. */
export async function copyToMirror(upstream: StartedRegistry, mirror: StartedRegistry, repoAndTag: string): Promise<void> {
  await runSkopeo([
    'copy',
    '--preserve-digests',
    ...registryFlags(upstream, 'src'),
    ...registryFlags(mirror, 'dest'),
    `docker://${upstream.host}/${repoAndTag}`,
    `docker://${mirror.host}/${repoAndTag}`,
  ]);
}

/** A plain-HTTP proxy on loopback in front of a plain registry, recording each request's Authorization. */
export interface RecordingProxy {
  /** `127.0.0.1:PORT`: use it as the mirror's host. */
  readonly host: string;
  /** One entry per request: its `Authorization` header, or undefined. */
  readonly authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** Starts a recording proxy in front of `target` (a plain registry on loopback). */
export async function startRecordingProxy(target: StartedRegistry): Promise<RecordingProxy> {
  if (target.mode !== 'plain') throw new Error('startRecordingProxy: the target must be a plain registry');
  const authorizations: (string | undefined)[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    const upstream = httpRequest(
      { host: LOOPBACK, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const port = await listenLoopback(server);
  return { host: `${LOOPBACK}:${port}`, authorizations, close: () => closeServer(server, sockets) };
}
