/** The policy-checking connector: addresses are checked before any connection, and tried in order. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';
import { policyConnector } from '../../src/registry/undici-transport.js';
import type { Connector } from '../../src/registry/transport.js';
import { ResolveError, isCamelOciError } from '../../src/base/errors.js';

function connect(connector: Connector, hostname: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    connector({ hostname, host: `${hostname}:${port}`, protocol: 'http:', port: String(port) }, (err, socket) =>
      err ? reject(err) : resolve(socket as Socket),
    );
  });
}

describe('policyConnector', () => {
  it('checks every resolved address before connecting, and never calls the real connector when refused', async () => {
    const calls: string[] = [];
    const connector = policyConnector({
      lookup: async () => [
        { address: '93.184.215.14', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ],
      check: (host, _port, addresses) => {
        if (addresses.some((a) => a.address.startsWith('169.254.'))) throw new ResolveError('POLICY_DENIED', `refusing ${host}`);
      },
      base: (opts, cb) => {
        calls.push(opts.hostname);
        cb(new Error('must not be reached'), null);
      },
    });
    await assert.rejects(connect(connector, 'mixed.example.test', 443), (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'));
    assert.deepEqual(calls, []);
  });

  it('tries the next checked address when one is unreachable, keeping the name for TLS', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const seen: Array<{ hostname: string; servername?: string | undefined }> = [];
    const real = buildConnector({ timeout: 2_000 });
    const connector = policyConnector({
      // 127.0.0.2 is loopback too, but nothing listens there on this port: ECONNREFUSED.
      lookup: async () => [
        { address: '127.0.0.2', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
      check: () => undefined,
      base: (opts, cb) => {
        seen.push({ hostname: opts.hostname, servername: opts.servername });
        real(opts, cb);
      },
    });
    try {
      const socket = await connect(connector, 'registry.test', port);
      assert.equal(socket.remoteAddress, '127.0.0.1');
      socket.destroy();
      assert.deepEqual(
        seen.map((s) => s.hostname),
        ['127.0.0.2', '127.0.0.1'],
      );
      assert.ok(seen.every((s) => s.servername === 'registry.test'));
    } finally {
      server.close();
    }
  });
});
