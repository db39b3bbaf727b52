/** Loopback port helpers for tests that start servers or child processes. */
import net from 'node:net';

/** Loopback address every test server listens on (tests never touch another address). */
export const LOOPBACK = '127.0.0.1';

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago. The port is closed again before it is
 * returned, so a child process can bind it; another process may take it first, which is why callers
 * that spawn a server retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: server has no TCP address');
  return address.port;
}

/** Starts `server` on 127.0.0.1:0 and returns the port the kernel chose. */
export async function listenLoopback(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(0, LOOPBACK, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listenLoopback: server has no TCP address');
  return address.port;
}

/** Closes `server`, destroying the given open sockets first so close() does not wait on keep-alive clients. */
export async function closeServer(server: net.Server, sockets: Iterable<net.Socket> = []): Promise<void> {
  for (const socket of sockets) socket.destroy();
  if (!server.listening) return;
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
