/** The node:http base transport: policy before connecting, TLS with extra CAs, deadlines, keep-alive. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LookupAddress } from 'node:dns';
import { createNodeTransport } from '../../src/registry/node-transport.js';
import type { AddressCheck, TransportRequest, TransportTimeouts } from '../../src/registry/transport.js';
import { ResolveError, isCamelOciError } from '../../src/base/errors.js';
import { issueServerCert, makeTestCa } from '../helpers/test-ca.js';

/** Refuses link-local (metadata) addresses, as the real policy does. */
const refuseLinkLocal: AddressCheck = (host, _port, addresses) => {
  if (addresses.some((a) => a.address.startsWith('169.254.'))) throw new ResolveError('POLICY_DENIED', `refusing ${host}`);
};
const loopbackOnly = async (): Promise<LookupAddress[]> => [{ address: '127.0.0.1', family: 4 }];

function get(url: string, signal = neverAborted()): TransportRequest {
  return { method: 'GET', url: new URL(url), headers: {}, signal, deadline: Date.now() + 10_000 };
}
// A signal that never aborts (AbortSignal.timeout would keep a timer alive).
function neverAborted(): AbortSignal {
  return new AbortController().signal;
}

async function readBody(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** A loopback server that counts the TCP connections it accepts. */
async function listen(server: Server): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('createNodeTransport', () => {
  it('GETs from a loopback server by name, sends the user agent, and reuses the connection', async () => {
    const seen: string[] = [];
    const srv = await listen(
      createServer((req: IncomingMessage, res: ServerResponse) => {
        seen.push(`${req.method} ${req.url} ${req.headers['user-agent']} ${req.headers.host}`);
        res.setHeader('docker-content-digest', 'sha256:abc');
        res.end('hello');
      }),
    );
    const { transport, close } = createNodeTransport({ lookup: loopbackOnly, check: refuseLinkLocal });
    try {
      const url = `http://registry.test:${srv.port}/v2/acme/deps/blobs/x?n=1`;
      const first = await transport(get(url));
      assert.equal(first.status, 200);
      assert.equal(first.headers['docker-content-digest'], 'sha256:abc');
      assert.equal(first.url.href, url);
      assert.equal(await readBody(first.body), 'hello');
      const second = await transport(get(url));
      await second.body.dump({ limit: 1024 });
      assert.deepEqual(seen, Array(2).fill(`GET /v2/acme/deps/blobs/x?n=1 camel-oci/0.1 registry.test:${srv.port}`));
      assert.equal(srv.connections(), 1, 'keep-alive: the second request reuses the connection');
    } finally {
      close();
      await srv.close();
    }
  });

  const refusals = [
    { name: 'a name with a metadata address among its addresses', host: 'mixed.test', addresses: ['127.0.0.1', '169.254.169.254'] },
    { name: 'a name resolving only to the metadata address', host: 'meta.test', addresses: ['169.254.169.254'] },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} before any connection`, async () => {
      const srv = await listen(createServer((_req, res) => res.end('must not be reached')));
      const { transport, close } = createNodeTransport({
        lookup: async () => c.addresses.map((address) => ({ address, family: 4 })),
        check: refuseLinkLocal,
      });
      try {
        await assert.rejects(transport(get(`http://${c.host}:${srv.port}/v2/`)), (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'));
        assert.equal(srv.connections(), 0);
      } finally {
        close();
        await srv.close();
      }
    });
  }

  it('checks an address literal too (no DNS lookup happens for it)', async () => {
    const srv = await listen(createServer((_req, res) => res.end('must not be reached')));
    const checked: string[] = [];
    const { transport, close } = createNodeTransport({
      lookup: async () => assert.fail('a literal is not looked up'),
      check: (host, port, addresses) => {
        checked.push(`${host}:${port}=${addresses.map((a) => a.address).join(',')}`);
        throw new ResolveError('POLICY_DENIED', `refusing ${host}`);
      },
    });
    try {
      await assert.rejects(transport(get(`http://127.0.0.1:${srv.port}/v2/`)), (e: unknown) => isCamelOciError(e, 'POLICY_DENIED'));
      assert.deepEqual(checked, [`127.0.0.1:${srv.port}=127.0.0.1`]);
      assert.equal(srv.connections(), 0);
    } finally {
      close();
      await srv.close();
    }
  });

  describe('TLS', () => {
    let dir = '';
    let srv: Awaited<ReturnType<typeof listen>>;
    let caPem = '';
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'camel-oci-node-transport-'));
      const ca = await makeTestCa(dir);
      caPem = ca.certPem;
      const cert = await issueServerCert(ca, { dnsNames: ['registry.test'] });
      srv = await listen(createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('secure')));
    });
    after(async () => {
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('trusts a server whose certificate the given CA signed, verifying the name asked for', async () => {
      const { transport, close } = createNodeTransport({ lookup: loopbackOnly, check: refuseLinkLocal, ca: [caPem] });
      try {
        const res = await transport(get(`https://registry.test:${srv.port}/v2/`));
        assert.equal(res.status, 200);
        assert.equal(await readBody(res.body), 'secure');
        // Same server, same CA, another name: the certificate does not cover it.
        await assert.rejects(transport(get(`https://other.test:${srv.port}/v2/`)), (e: unknown) => isCamelOciError(e, 'TLS_ERROR'));
      } finally {
        close();
      }
    });

    it('refuses the server without the CA (TLS_ERROR)', async () => {
      const { transport, close } = createNodeTransport({ lookup: loopbackOnly, check: refuseLinkLocal });
      try {
        await assert.rejects(transport(get(`https://registry.test:${srv.port}/v2/`)), (e: unknown) => isCamelOciError(e, 'TLS_ERROR'));
      } finally {
        close();
      }
    });
  });

  describe('deadlines', () => {
    const short: TransportTimeouts = { connectMs: 1_000, headersMs: 150, bodyMs: 150 };

    it('maps the caller aborting a request to its reason', async () => {
      const srv = await listen(createServer(() => undefined)); // never answers
      const { transport, close } = createNodeTransport({ lookup: loopbackOnly, check: refuseLinkLocal });
      const ac = new AbortController();
      const reason = new ResolveError('TIMEOUT', 'caller deadline');
      setTimeout(() => ac.abort(reason), 50);
      const started = Date.now();
      try {
        await assert.rejects(transport(get(`http://registry.test:${srv.port}/v2/`, ac.signal)), (e: unknown) => e === reason);
        assert.ok(Date.now() - started < 2_000);
      } finally {
        close();
        await srv.close();
      }
    });

    it('gives up on a server that sends no headers (TIMEOUT, retryable)', async () => {
      const srv = await listen(createServer(() => undefined));
      const { transport, close } = createNodeTransport({ lookup: loopbackOnly, check: refuseLinkLocal, timeouts: short });
      const started = Date.now();
      try {
        await assert.rejects(
          transport(get(`http://registry.test:${srv.port}/v2/`)),
          (e: unknown) => isCamelOciError(e, 'TIMEOUT') && e.retryable === true,
        );
        assert.ok(Date.now() - started < 3_000, 'within connect + headers time');
      } finally {
        close();
        await srv.close();
      }
    });

    it('fails a body that stalls for longer than the idle body timeout', async () => {
      const srv = await listen(
        createServer((_req, res) => {
          res.writeHead(200, { 'content-length': '100' });
          res.write('partial');
        }),
      );
      const { transport, close } = createNodeTransport({ lookup: loopbackOnly, check: refuseLinkLocal, timeouts: short });
      try {
        const res = await transport(get(`http://registry.test:${srv.port}/v2/`));
        await assert.rejects(readBody(res.body), (e: unknown) => (e as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT');
      } finally {
        close();
        await srv.close();
      }
    });

    it('aborts a body being read when the caller aborts', async () => {
      const srv = await listen(
        createServer((_req, res) => {
          res.writeHead(200, { 'content-length': '100' });
          res.write('partial');
        }),
      );
      const { transport, close } = createNodeTransport({ lookup: loopbackOnly, check: refuseLinkLocal });
      const ac = new AbortController();
      try {
        const res = await transport(get(`http://registry.test:${srv.port}/v2/`, ac.signal));
        setTimeout(() => ac.abort(), 50);
        await assert.rejects(readBody(res.body), (e: unknown) => isCamelOciError(e, 'TIMEOUT'));
      } finally {
        close();
        await srv.close();
      }
    });
  });
});
