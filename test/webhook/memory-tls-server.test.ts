import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { ServeError } from '../../src/base/errors.js';
import { generateCa, issueServingCert } from '../../src/certs/x509.js';
import { createMemoryHttpsServer } from '../../src/webhook/memory-tls-server.js';

function handshake(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'camel-oci.camel-oci.svc' }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

test('no handshake succeeds before the first certificate; load() swaps it for new connections; a bad pair is refused and the old one stays', async (t) => {
  const server = createMemoryHttpsServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.server.address() as { port: number }).port;
  const ca = await generateCa({ commonName: 'ca', validityDays: 2 });
  const a = await issueServingCert(ca, { service: 'camel-oci', namespace: 'camel-oci', validityDays: 1 });
  const b = await issueServingCert(ca, { service: 'camel-oci', namespace: 'camel-oci', validityDays: 1 });
  assert.equal(server.ready(), false);
  await assert.rejects(handshake(port, ca.certPem));
  const first = server.load(a.certPem, a.keyPem);
  assert.equal(server.ready(), true);
  assert.equal(await handshake(port, ca.certPem), first.fingerprint256);
  assert.throws(
    () => server.load(a.certPem, b.keyPem),
    (e: unknown) => e instanceof ServeError && e.code === 'CONFIG_INVALID',
  );
  assert.throws(
    () => server.load('not a certificate', b.keyPem),
    (e: unknown) => e instanceof ServeError && e.code === 'CONFIG_INVALID',
  );
  assert.equal(await handshake(port, ca.certPem), first.fingerprint256, 'the old pair stays after a refused one');
  const second = server.load(b.certPem, b.keyPem);
  assert.notEqual(second.fingerprint256, first.fingerprint256);
  assert.equal(await handshake(port, ca.certPem), second.fingerprint256);
  assert.equal(server.certificate()?.fingerprint256, second.fingerprint256);
});
