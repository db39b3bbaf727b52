import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import tls from 'node:tls';
import { generateCa, issueCert, type CertBundle } from '../../src/certs/x509.js';
import { isCamelOciError, type ServeError } from '../../src/base/errors.js';
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS,
  createReloadingHttpsServer,
  type ReloadingHttpsOptions,
  type ReloadingHttpsServer,
} from '../../src/webhook/tls-server.js';

/** How long a test waits for a reload or an error report before failing. */
const WAIT_MS = 5_000;

// Two certificates A and B from one CA for the loopback names, so a client trusting the CA accepts both.
const material = (async () => {
  const ca = await generateCa({ commonName: 'tls-server test CA', validityDays: 2 });
  const issue = (): Promise<CertBundle> =>
    issueCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
  const [a, b] = await Promise.all([issue(), issue()]);
  return { ca, a, b, fpA: fingerprint(a.certPem), fpB: fingerprint(b.certPem) };
})();

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

type VolumeFiles = Partial<Record<'tls.crt' | 'tls.key' | 'ca.crt', string>>;

function volumeFiles(bundle: CertBundle): VolumeFiles {
  return { 'tls.crt': bundle.certPem, 'tls.key': bundle.keyPem, 'ca.crt': bundle.caCertPem };
}

let generation = 0;

/** Writes a timestamped data directory as kubelet's atomic writer does and returns its name. */
async function writeDataDir(root: string, files: VolumeFiles): Promise<string> {
  const name = `..2026_01_01_00_00_${String(generation++).padStart(2, '0')}.${process.pid}`;
  await mkdir(path.join(root, name));
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(root, name, file), content, { mode: 0o600 });
  return name;
}

/** A Secret volume as kubelet lays it out: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>. */
async function secretVolume(t: test.TestContext, files: VolumeFiles): Promise<{ root: string; swap(files: VolumeFiles): Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-tls-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  let current = await writeDataDir(root, files);
  await symlink(current, path.join(root, '..data'));
  for (const file of ['tls.crt', 'tls.key', 'ca.crt']) await symlink(path.join('..data', file), path.join(root, file));
  return {
    root,
    // kubelet: write the new directory, point ..data_tmp at it, rename over ..data, delete the old one.
    async swap(next) {
      const name = await writeDataDir(root, next);
      await symlink(name, path.join(root, '..data_tmp'));
      await rename(path.join(root, '..data_tmp'), path.join(root, '..data'));
      await rm(path.join(root, current), { recursive: true });
      current = name;
    },
  };
}

interface Started {
  readonly srv: ReloadingHttpsServer;
  readonly port: number;
  readonly reloads: string[];
  readonly errors: ServeError[];
  /** Resolves when the handler has received a /slow request; `release()` lets it answer. */
  slowArrived(): Promise<void>;
  release(): void;
}

/** Starts the server on 127.0.0.1 with files in `root`; /slow waits for release(), anything else answers at once. */
async function start(t: test.TestContext, root: string, extra: Partial<ReloadingHttpsOptions> = {}): Promise<Started> {
  const reloads: string[] = [];
  const errors: ServeError[] = [];
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const handler: http.RequestListener = (req, res) => {
    if (req.url === '/slow') {
      arrived();
      void released.then(() => res.end('slow done'));
      return;
    }
    res.end('ok');
  };
  const srv = createReloadingHttpsServer(handler, {
    certFile: path.join(root, 'tls.crt'),
    keyFile: path.join(root, 'tls.key'),
    caFile: path.join(root, 'ca.crt'),
    minVersion: 'TLSv1.2',
    pollIntervalMs: 0, // the directory watch alone must notice the swap
    onReload: (c) => reloads.push(c.fingerprint256),
    onError: (e) => errors.push(e),
    ...extra,
  });
  t.after(async () => {
    release();
    srv.server.closeAllConnections();
    await srv.close();
  });
  await new Promise<void>((resolve) => srv.server.listen(0, '127.0.0.1', resolve));
  const { port } = srv.server.address() as AddressInfo;
  return { srv, port, reloads, errors, slowArrived: () => arrival, release };
}

/** A fresh TLS connection's view of the served certificate (fingerprint), verifying it against the CA as `localhost`. */
async function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

/** GETs `urlPath` over HTTPS; returns status, body and the certificate that connection saw. */
async function get(
  port: number,
  ca: string,
  urlPath: string,
  agent: https.Agent | false = false,
): Promise<{ status: number; body: string; fp: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: urlPath, servername: 'localhost', ca, agent }, (res) => {
      const fp = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fp, reused: req.reusedSocket }));
    });
    req.once('error', reject);
    req.end();
  });
}

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('serves the initial certificate, is ready, and sets the timeouts and keep-alive', async (t) => {
  const m = await material;
  const vol = await secretVolume(t, volumeFiles(m.a));
  const s = await start(t, vol.root);
  assert.equal(s.srv.ready(), true);
  assert.equal(s.srv.certificate().fingerprint256, m.fpA);
  assert.equal(await servedFingerprint(s.port, m.ca.certPem), m.fpA);
  assert.equal(s.srv.server.headersTimeout, HEADERS_TIMEOUT_MS);
  assert.equal(s.srv.server.requestTimeout, REQUEST_TIMEOUT_MS);
  assert.equal(s.srv.server.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await get(s.port, m.ca.certPem, '/', agent);
  const second = await get(s.port, m.ca.certPem, '/', agent);
  assert.deepEqual([first.status, first.body, first.reused], [200, 'ok', false]);
  assert.deepEqual([second.status, second.reused], [200, true], 'the second request reuses the kept-alive connection');
});

test('a ..data symlink swap puts the new certificate into service without dropping an in-flight request', async (t) => {
  const m = await material;
  const vol = await secretVolume(t, volumeFiles(m.a));
  const s = await start(t, vol.root);
  const slow = get(s.port, m.ca.certPem, '/slow');
  await s.slowArrived();

  await vol.swap(volumeFiles(m.b));
  await waitFor('the reload', () => s.reloads.length === 1);
  assert.deepEqual(s.reloads, [m.fpB]);
  assert.equal(await servedFingerprint(s.port, m.ca.certPem), m.fpB, 'new connections get B');
  assert.deepEqual(await get(s.port, m.ca.certPem, '/'), { status: 200, body: 'ok', fp: m.fpB, reused: false });
  assert.equal(s.srv.ready(), true);

  s.release();
  const done = await slow;
  assert.deepEqual(
    done,
    { status: 200, body: 'slow done', fp: m.fpA, reused: false },
    'the in-flight request finished on its A connection',
  );
  assert.deepEqual(s.errors, []);
});

const badReplacements: Array<{ name: string; files: (m: Awaited<typeof material>) => VolumeFiles; message: RegExp }> = [
  {
    name: 'a key that belongs to another certificate',
    files: (m) => ({ ...volumeFiles(m.b), 'tls.key': m.a.keyPem }),
    message: /does not belong/,
  },
  {
    name: 'a certificate that is not PEM',
    files: (m) => ({ ...volumeFiles(m.b), 'tls.crt': 'garbage' }),
    message: /does not hold a PEM certificate/,
  },
  { name: 'an empty key', files: (m) => ({ ...volumeFiles(m.b), 'tls.key': '' }), message: /does not hold an unencrypted PEM private key/ },
  {
    name: 'a missing key file',
    files: (m) => ({ 'tls.crt': m.b.certPem, 'ca.crt': m.b.caCertPem }),
    message: /cannot read the TLS private key file .*ENOENT/,
  },
];

for (const c of badReplacements) {
  test(`a bad replacement (${c.name}) is reported once and the old certificate stays in service`, async (t) => {
    const m = await material;
    const vol = await secretVolume(t, volumeFiles(m.a));
    const s = await start(t, vol.root);
    await vol.swap(c.files(m));
    await waitFor('the error report', () => s.errors.length === 1);
    const err = s.errors[0];
    assert.ok(isCamelOciError(err, 'CONFIG_INVALID'), `code ${err?.code}`);
    assert.match(err.message, c.message);
    assert.match(err.message, /still serving the previous certificate/);
    assert.equal(await servedFingerprint(s.port, m.ca.certPem), m.fpA);
    assert.equal(s.srv.ready(), true);
    assert.equal(s.srv.certificate().fingerprint256, m.fpA);

    assert.equal(await s.srv.reload(), false);
    assert.equal(s.errors.length, 1, 'the same bad files are not reported again');

    await vol.swap(volumeFiles(m.b)); // and a good pair afterwards is taken
    await waitFor('the recovery', () => s.reloads.length === 1);
    assert.equal(await servedFingerprint(s.port, m.ca.certPem), m.fpB);
  });
}

test('reload() reads the files now and reports whether the certificate changed', async (t) => {
  const m = await material;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-tls-plain-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'tls.crt'), m.a.certPem);
  await writeFile(path.join(dir, 'tls.key'), m.a.keyPem);
  await writeFile(path.join(dir, 'ca.crt'), m.a.caCertPem);
  const s = await start(t, dir);
  assert.equal(await s.srv.reload(), false, 'unchanged files are not a reload');
  await writeFile(path.join(dir, 'tls.key'), m.b.keyPem);
  await writeFile(path.join(dir, 'tls.crt'), m.b.certPem);
  assert.equal(await s.srv.reload(), true);
  assert.equal(s.srv.certificate().fingerprint256, m.fpB);
  assert.equal(await servedFingerprint(s.port, m.ca.certPem), m.fpB);
});

test('polling alone notices a change when no watch event arrives', async (t) => {
  const m = await material;
  const vol = await secretVolume(t, volumeFiles(m.a));
  const s = await start(t, vol.root, { pollIntervalMs: 50 });
  await vol.swap(volumeFiles(m.b));
  await waitFor('the reload', () => s.reloads.length === 1);
  assert.equal(await servedFingerprint(s.port, m.ca.certPem), m.fpB);
});

test('refuses a TLS 1.1 client, before and after a reload, and accepts TLS 1.2', async (t) => {
  const m = await material;
  const vol = await secretVolume(t, volumeFiles(m.a));
  const s = await start(t, vol.root);
  const handshake = (version: tls.SecureVersion): Promise<string> =>
    new Promise((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: s.port,
        servername: 'localhost',
        ca: m.ca.certPem,
        minVersion: version,
        maxVersion: version,
        // Node's own client refuses TLS 1.1 at the default security level; lower it so the server decides.
        ciphers: 'DEFAULT:@SECLEVEL=0',
      });
      socket.once('secureConnect', () => {
        const protocol = socket.getProtocol() ?? '?';
        socket.destroy();
        resolve(`connected ${protocol}`);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        socket.destroy();
        resolve(err.code ?? err.message);
      });
    });
  assert.equal(await handshake('TLSv1.1'), 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  assert.equal(await handshake('TLSv1.2'), 'connected TLSv1.2');
  await vol.swap(volumeFiles(m.b));
  await waitFor('the reload', () => s.reloads.length === 1);
  assert.equal(await handshake('TLSv1.1'), 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  assert.equal(await handshake('TLSv1.2'), 'connected TLSv1.2');
});

const invalidStartFiles: Array<{ name: string; files: (m: Awaited<typeof material>) => VolumeFiles; message: RegExp }> = [
  {
    name: 'missing certificate',
    files: (m) => ({ 'tls.key': m.a.keyPem, 'ca.crt': m.a.caCertPem }),
    message: /cannot read the TLS certificate file .*tls\.crt \(ENOENT\).*camel-oci certs/,
  },
  {
    name: 'missing key',
    files: (m) => ({ 'tls.crt': m.a.certPem, 'ca.crt': m.a.caCertPem }),
    message: /cannot read the TLS private key file .*tls\.key/,
  },
  {
    name: 'missing CA',
    files: (m) => ({ 'tls.crt': m.a.certPem, 'tls.key': m.a.keyPem }),
    message: /cannot read the TLS CA certificate file .*ca\.crt/,
  },
  {
    name: 'mismatched key',
    files: (m) => ({ ...volumeFiles(m.a), 'tls.key': m.b.keyPem }),
    message: /private key in .*tls\.key does not belong to the certificate in .*tls\.crt/,
  },
  {
    name: 'certificate not PEM',
    files: (m) => ({ ...volumeFiles(m.a), 'tls.crt': 'nope' }),
    message: /tls\.crt does not hold a PEM certificate/,
  },
  { name: 'CA not PEM', files: (m) => ({ ...volumeFiles(m.a), 'ca.crt': 'nope' }), message: /ca\.crt does not hold a PEM certificate/ },
];

for (const c of invalidStartFiles) {
  test(`refuses to start with ${c.name} (CONFIG_INVALID)`, async (t) => {
    const m = await material;
    const vol = await secretVolume(t, c.files(m));
    assert.throws(
      () =>
        createReloadingHttpsServer(() => {}, {
          certFile: path.join(vol.root, 'tls.crt'),
          keyFile: path.join(vol.root, 'tls.key'),
          caFile: path.join(vol.root, 'ca.crt'),
        }),
      (err) => isCamelOciError(err, 'CONFIG_INVALID') && c.message.test(err.message),
    );
  });
}

test('close() lets an in-flight request finish, then resolves; the server is no longer ready', async (t) => {
  const m = await material;
  const vol = await secretVolume(t, volumeFiles(m.a));
  const s = await start(t, vol.root);
  const slow = get(s.port, m.ca.certPem, '/slow');
  await s.slowArrived();
  let closed = false;
  const closing = s.srv.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(closed, false, 'close waits for the in-flight request');
  assert.equal(s.srv.ready(), false);
  s.release();
  assert.deepEqual((await slow).body, 'slow done');
  await closing;
  assert.equal(s.srv.server.listening, false);
});

test('ready() is false once the certificate has expired', async (t) => {
  const m = await material;
  const vol = await secretVolume(t, volumeFiles(m.a));
  let clock = Date.now();
  const s = await start(t, vol.root, { now: () => clock });
  assert.equal(s.srv.ready(), true);
  clock = s.srv.certificate().notAfter.getTime() + 1;
  assert.equal(s.srv.ready(), false);
});
