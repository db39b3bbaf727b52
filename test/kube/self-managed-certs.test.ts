import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/base/logger.js';
import { bundleVerifies } from '../../src/certs/lifecycle.js';
import { generateCa, issueServingCert } from '../../src/certs/x509.js';
import { startSelfManagedCertificates, type SelfManagedCertificates } from '../../src/kube/self-managed-certs.js';
import { createCertificateMetrics } from '../../src/webhook/cert-metrics.js';
import { createMemoryHttpsServer, type MemoryHttpsServer } from '../../src/webhook/memory-tls-server.js';
import { issueServerCert, makeTestCa } from '../helpers/test-ca.js';
import { startObjectApiserver, type ObjectApiserver } from './fake-object-apiserver.js';
import { eventually } from '../helpers/eventually.js';

const TOKEN = 'self-managed-token';
const NS = 'camel-oci';
const SECRET = 'camel-oci-tls';
const WEBHOOK = 'camel-oci';
const SERVICE = 'camel-oci';
/** The name the apiserver dials, which clients here verify against. */
const SERVER_NAME = 'camel-oci.camel-oci.svc';
/** Bounds every wait of these tests. */
const WAIT_MS = 30_000;
const DAY_MS = 24 * 3600 * 1000;

/** The webhook configuration as the manifests create it: two entries, no caBundle yet (or `caBundlePem`). */
function webhookConfiguration(caBundlePem?: string): Record<string, any> {
  const entry = (name: string): Record<string, unknown> => ({
    name,
    admissionReviewVersions: ['v1'],
    clientConfig: {
      service: { name: SERVICE, namespace: NS, path: '/mutate', port: 443 },
      ...(caBundlePem === undefined ? {} : { caBundle: Buffer.from(caBundlePem).toString('base64') }),
    },
    sideEffects: 'None',
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK },
    webhooks: [entry('oci-injection.camel.apache.org'), entry('second.camel.apache.org')],
  };
}

let dir: string;
let api: ObjectApiserver;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-self-managed-'));
  const ca = await makeTestCa(dir);
  const cert = await issueServerCert(ca);
  api = await startObjectApiserver({ certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem, token: TOKEN, latencyMs: 3 });
});

after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

/** Fresh objects for a test: no Secret, the configuration without bundle. */
function resetObjects(): void {
  api.putWebhookConfiguration(webhookConfiguration());
  api.deleteSecret(NS, SECRET);
  api.putSecret(NS, 'unrelated', { a: 'b' });
}

/** The decoded caBundle of every entry, as the apiserver holds it now. */
function bundles(): string[] {
  const mwc = api.webhookConfiguration(WEBHOOK);
  return ((mwc?.webhooks ?? []) as any[]).map((w) =>
    w.clientConfig.caBundle === undefined ? '' : Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8'),
  );
}

interface Replica {
  readonly tls: MemoryHttpsServer;
  readonly certs: SelfManagedCertificates;
  readonly port: number;
  readonly metrics: Registry;
  /** Certificates this replica put into service, in order. */
  readonly served: string[];
  /** Certificates put into service while some caBundle could not verify them (must stay empty). */
  readonly unverifiedServes: string[];
  close(): Promise<void>;
}

const handler: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { request?: { uid?: string } };
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: review.request?.uid ?? '', allowed: true },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
};

async function startReplica(
  lifetimes: { caLifetimeMs?: number; servingLifetimeMs?: number; recheckMs?: number } = {},
  /** Where the replica's log lines go, at level debug; none (silent) when absent. */
  log?: string[],
): Promise<Replica> {
  const server = createMemoryHttpsServer(handler);
  const registry = new Registry();
  const served: string[] = [];
  const unverifiedServes: string[] = [];
  const certs = startSelfManagedCertificates({
    kubeConfig: api.kubeConfig(),
    namespace: NS,
    secretName: SECRET,
    webhookName: WEBHOOK,
    service: SERVICE,
    logger:
      log === undefined
        ? createLogger({ level: (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent' })
        : createLogger({ level: 'debug', destination: { write: (line: string) => void log.push(line) } }),
    metrics: createCertificateMetrics(registry),
    serve: ({ certPem, keyPem }) => {
      // The property: at the moment a certificate goes into service, every entry's bundle verifies it.
      if (!bundles().every((b) => bundleVerifies(b, certPem, Date.now()))) unverifiedServes.push(certPem);
      server.load(certPem, keyPem);
      served.push(certPem);
      if (process.env.TEST_LOG_LEVEL)
        process.stderr.write(
          `${new Date().toISOString()} port ${(server.server.address() as { port: number } | null)?.port} serves notAfter ${new X509Certificate(certPem).validTo}\n`,
        );
    },
    recheckMs: lifetimes.recheckMs ?? 300,
    ...(lifetimes.caLifetimeMs === undefined ? {} : { caLifetimeMs: lifetimes.caLifetimeMs }),
    ...(lifetimes.servingLifetimeMs === undefined ? {} : { servingLifetimeMs: lifetimes.servingLifetimeMs }),
  });
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    tls: server,
    certs,
    port,
    metrics: registry,
    served,
    unverifiedServes,
    async close() {
      await certs.stop();
      await server.close();
    },
  };
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  if (!(await eventually(check, { timeoutMs: WAIT_MS, stepMs: 25 }))) throw new Error(`timed out waiting for ${what}`);
}

/** The certificate a replica presents to a new connection, and whether `caPem` verifies it for the Service name. */
function presented(port: number, caPem: string): Promise<{ certPem: string; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: SERVER_NAME, ca: caPem, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      const certPem = new X509Certificate(raw).toString();
      resolve({
        certPem,
        authorized: socket.authorized,
        ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}),
      });
      socket.end();
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timeout')));
    socket.on('error', reject);
  });
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return Number(v?.value ?? 0);
}

for (const n of [2, 3]) {
  test(`${n} replicas starting at once end with one Secret and a bundle that verifies every replica's certificate`, async (t) => {
    resetObjects();
    const before = api.creates();
    const replicas = await Promise.all(Array.from({ length: n }, () => startReplica()));
    t.after(() => Promise.all(replicas.map((r) => r.close())));
    await waitFor('every replica ready', () => replicas.every((r) => r.certs.ready() && r.tls.ready()));
    const after = api.creates();
    assert.equal(after.ok - before.ok, 1, 'one create won');
    // Replicas that read before the create lose it with 409; how many did depends on timing.
    assert.ok(after.conflicts - before.conflicts <= n - 1);
    const secret = api.secret(NS, SECRET)!;
    const secretCert = Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8');
    const trust = Buffer.from(secret.data['ca.crt'], 'base64').toString('utf8');
    for (const b of bundles()) assert.equal(b, trust, "every entry holds the Secret's CA");
    for (const r of replicas) {
      for (const b of bundles()) {
        const p = await presented(r.port, b);
        assert.equal(p.authorized, true, p.error);
        assert.equal(
          new X509Certificate(p.certPem).fingerprint256,
          new X509Certificate(secretCert).fingerprint256,
          "serves the Secret's certificate",
        );
      }
      assert.deepEqual(r.unverifiedServes, []);
    }
    // The check above can fail: a bundle with another CA does not verify the replicas.
    const foreign = await generateCa({ commonName: 'other', validityDays: 1 });
    assert.equal((await presented(replicas[0]!.port, foreign.certPem)).authorized, false);
  });
}

test('a blanked caBundle (manifests re-applied) is repaired and counted', async (t) => {
  resetObjects();
  const r = await startReplica();
  t.after(() => r.close());
  await waitFor('ready', () => r.certs.ready());
  const trust = bundles()[0]!;
  assert.notEqual(trust, '');
  api.putWebhookConfiguration(webhookConfiguration()); // kubectl apply of install.yaml: empty caBundle
  assert.deepEqual(bundles(), ['', '']);
  await waitFor('the bundle repaired', () => bundles().every((b) => b === trust));
  // The counter moves once the patch is answered, a moment after the fake applied it.
  await eventually(async () => (await metricValue(r.metrics, 'camel_oci_ca_bundle_repairs_total')) >= 1, { stepMs: 25 });
  // At least one repair: under load a re-check may find the bundle blank again before the fake applied the first patch.
  assert.ok((await metricValue(r.metrics, 'camel_oci_ca_bundle_repairs_total')) >= 1);
  assert.deepEqual(r.unverifiedServes, []);
  assert.equal(r.served.length, 1, 'the certificate did not change');
});

test('a refresh that sees the bundle set before the patch is answered: the replica’s own patch is no repair, a blanking then is one', async (t) => {
  resetObjects();
  // The first caBundle patch takes effect at once; its answer waits, so the reconcile waits, and
  // the refresh beside it is the first to see the bundle match and to serve.
  const releasePatch = api.holdNextAnswer('PATCH');
  const r = await startReplica();
  t.after(() => r.close());
  await waitFor('ready through a refresh', () => r.certs.ready());
  const trust = bundles()[0]!;
  api.putWebhookConfiguration(webhookConfiguration()); // blanked while the reconcile still waits
  releasePatch();
  await waitFor('the bundle repaired', () => bundles().every((b) => b === trust));
  await r.certs.reconcile(); // joins the running one, so it has counted
  assert.equal(await metricValue(r.metrics, 'camel_oci_ca_bundle_repairs_total'), 1);
  assert.deepEqual(r.unverifiedServes, []);
  assert.equal(r.served.length, 1);
});

test('an expired serving certificate found at start is replaced, and so is a Secret whose CA expired', async (t) => {
  resetObjects();
  const longAgo = new Date(Date.now() - 400 * DAY_MS);
  const ca = await generateCa({ commonName: 'old CA', validityDays: 3650, now: longAgo });
  const expired = await issueServingCert(ca, { service: SERVICE, namespace: NS, validityDays: 365, now: longAgo });
  api.putSecret(NS, SECRET, { 'tls.crt': expired.certPem, 'tls.key': expired.keyPem, 'ca.crt': ca.certPem, 'ca.key': ca.keyPem });
  const r = await startReplica();
  t.after(() => r.close());
  await waitFor('ready', () => r.certs.ready() && r.tls.ready());
  const servedNow = new X509Certificate(r.served.at(-1)!);
  assert.ok(new Date(servedNow.validTo).getTime() > Date.now(), 'serves a valid certificate');
  assert.equal(servedNow.checkIssued(new X509Certificate(ca.certPem)), true, 'the CA was still good, so it signed the new one');
  assert.ok(!r.served.includes(expired.certPem), 'never served the expired one');
  assert.equal(await metricValue(r.metrics, 'camel_oci_certificate_rotations_total', { kind: 'rotate-serving' }), 1);
  assert.ok(
    (await metricValue(r.metrics, 'camel_oci_serving_certificate_expiry_timestamp_seconds')) * 1000 >=
      new Date(servedNow.validTo).getTime() - 1000,
  );
  await r.close();

  const deadCa = await generateCa({ commonName: 'dead CA', validityDays: 365, now: longAgo });
  const dead = await issueServingCert(deadCa, { service: SERVICE, namespace: NS, validityDays: 365, now: longAgo });
  api.putSecret(NS, SECRET, { 'tls.crt': dead.certPem, 'tls.key': dead.keyPem, 'ca.crt': deadCa.certPem, 'ca.key': deadCa.keyPem });
  const r2 = await startReplica();
  t.after(() => r2.close());
  await waitFor('ready', () => r2.certs.ready());
  assert.equal(await metricValue(r2.metrics, 'camel_oci_certificate_rotations_total', { kind: 'replace' }), 1);
  const trust = bundles()[0]!;
  assert.ok(!trust.includes(deadCa.certPem.trim()), 'the expired CA is not trusted any more');
  assert.equal((await presented(r2.port, trust)).authorized, true);
  assert.deepEqual(r2.unverifiedServes, []);
});

test('a Secret written by `camel-oci certs` (no CA key) is taken over without an outage: its CA stays trusted until retired', async (t) => {
  resetObjects();
  const ca = await generateCa({ commonName: 'certs CA', validityDays: 365 });
  const cert = await issueServingCert(ca, { service: SERVICE, namespace: NS, validityDays: 365 });
  api.putSecret(NS, SECRET, { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem, 'ca.crt': ca.certPem });
  const r = await startReplica({ recheckMs: 200 });
  t.after(() => r.close());
  await waitFor('ready', () => r.certs.ready());
  // Right after the replacement, the old CA is still in the bundle for pods serving the old certificate.
  const firstTrust = bundles()[0]!;
  assert.ok(
    firstTrust.includes(ca.certPem.trim()) ||
      (await metricValue(r.metrics, 'camel_oci_certificate_rotations_total', { kind: 'retire-ca' })) === 1,
  );
  await waitFor('old CA retired', () => !bundles()[0]!.includes(ca.certPem.trim()));
  assert.deepEqual(r.unverifiedServes, []);
});

test('rotations of the serving certificate and of the CA under continuous admission load over TLS fail zero requests', async (t) => {
  resetObjects();
  // Short lives: serving rotates about every 12 s, the CA rolls over at 20 s (promoted after 3 re-checks), over a 30 s run.
  // The margins (a third of the serving life, 6 s) absorb seconds of key generation on a loaded test
  // machine (at a load of 11 on 2 cores, 4 s were not enough: certificates expired before rotating).
  const lives = { caLifetimeMs: 40_000, servingLifetimeMs: 18_000, recheckMs: 400 };
  const replicas = await Promise.all([startReplica(lives), startReplica(lives)]);
  t.after(() => Promise.all(replicas.map((r) => r.close())));
  await waitFor('ready', () => replicas.every((r) => r.certs.ready()));
  const runUntil = Date.now() + 30_000;
  let ok = 0;
  const failures: string[] = [];
  const seen = new Set<string>();
  async function client(i: number): Promise<void> {
    for (let n = 0; Date.now() < runUntil && n < 10_000; n++) {
      const r = replicas[(i + n) % replicas.length]!;
      // As the apiserver does: trust exactly the current caBundle, verify the Service name.
      const ca = bundles()[0]!;
      const uid = `u-${i}-${n}`;
      try {
        const answer = await new Promise<string>((resolve, reject) => {
          const req = https.request(
            {
              host: '127.0.0.1',
              port: r.port,
              servername: SERVER_NAME,
              ca,
              method: 'POST',
              path: '/mutate',
              agent: false,
              headers: { 'content-type': 'application/json' },
              timeout: 5000,
            },
            (res) => {
              const chunks: Buffer[] = [];
              const sock = res.socket as tls.TLSSocket;
              seen.add(new X509Certificate(sock.getPeerCertificate().raw).fingerprint256);
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
            },
          );
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', reject);
          req.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid } }));
        });
        assert.equal((JSON.parse(answer) as { response: { uid: string } }).response.uid, uid);
        ok++;
      } catch (err) {
        failures.push(`${(err as Error).message} port ${r.port} at ${new Date().toISOString()}`);
      }
    }
  }
  await Promise.all([0, 1].map(client));
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests failed`);
  assert.ok(ok > 50, `enough load: ${ok}`);
  const total = async (kind: string): Promise<number> =>
    (await Promise.all(replicas.map((r) => metricValue(r.metrics, 'camel_oci_certificate_rotations_total', { kind })))).reduce(
      (a, b) => a + b,
      0,
    );
  assert.ok((await total('rotate-serving')) + (await total('promote-ca')) >= 2, 'the serving certificate changed during the run');
  assert.ok((await total('promote-ca')) >= 1, 'a new CA took over during the run');
  assert.ok(seen.size >= 3, `clients saw ${seen.size} certificates`);
  for (const r of replicas) assert.deepEqual(r.unverifiedServes, []);
});

test('every update of the Secret carries the resourceVersion it read, and a stale one is refused with 409', async (t) => {
  resetObjects();
  const r = await startReplica({ servingLifetimeMs: 6000, recheckMs: 300 });
  t.after(() => r.close());
  await waitFor('a rotation', () => r.served.length >= 2);
  const puts = api.requests.filter((q) => q.method === 'PUT' && q.path.endsWith(`/secrets/${SECRET}`));
  assert.ok(puts.length >= 1);
  for (const q of puts) assert.match(String((q.body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion), /^\d+$/);
  // The stand-in enforces the precondition, so the property above is what keeps replicas apart.
  const kc = api.kubeConfig();
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const core = kc.makeApiClient(CoreV1Api);
  const current = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
  await core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body: current });
  await assert.rejects(
    core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body: current }),
    (e: { code?: number }) => e.code === 409,
  );
});

test('a forbidden apiserver keeps the replica not ready, and it recovers once access is granted', async (t) => {
  resetObjects();
  api.failNext('GET', 403, 3);
  const r = await startReplica({ recheckMs: 300 });
  t.after(() => r.close());
  await waitFor('the 403s consumed', () => api.requests.filter((q) => q.status === 403).length >= 3);
  assert.equal(r.certs.ready(), false);
  assert.equal(r.tls.ready(), false);
  await waitFor('ready after the retries', () => r.certs.ready());
  assert.deepEqual(r.unverifiedServes, []);
});

test('a Secret deleted to force a rotation: replicas that have not re-read it stay verifiable through the new bundle', async (t) => {
  resetObjects();
  // Long re-check periods: only the reconcile run by hand below re-reads.
  const replicas = [await startReplica({ recheckMs: 60_000 }), await startReplica({ recheckMs: 60_000 })];
  t.after(() => Promise.all(replicas.map((r) => r.close())));
  await waitFor('every replica ready', () => replicas.every((r) => r.certs.ready() && r.tls.ready()));
  const oldCa = bundles()[0]!;
  api.deleteSecret(NS, SECRET);
  await replicas[0]!.certs.reconcile(); // a new CA and certificate, and the bundle patched to them
  assert.equal(replicas[0]!.served.length, 2, 'the first replica serves the new certificate');
  assert.equal(replicas[1]!.served.length, 1, 'the second has not re-read');
  const bundle = bundles()[0]!;
  assert.notEqual(bundle, oldCa);
  assert.ok(bundle.includes(oldCa.trim()), 'the CA the second replica still serves under stays trusted until retired');
  for (const r of replicas) {
    const p = await presented(r.port, bundle);
    assert.equal(p.authorized, true, `port ${r.port}: ${p.error ?? ''}`);
  }
});

test('a Secret whose key is not its certificate’s is repaired: a new serving certificate, not a reconcile failing for ever', async (t) => {
  resetObjects();
  const ca = await generateCa({ commonName: 'hand-made CA', validityDays: 365 });
  const a = await issueServingCert(ca, { service: SERVICE, namespace: NS, validityDays: 30 });
  const b = await issueServingCert(ca, { service: SERVICE, namespace: NS, validityDays: 30 });
  api.putWebhookConfiguration(webhookConfiguration(ca.certPem));
  api.putSecret(NS, SECRET, { 'tls.crt': a.certPem, 'tls.key': b.keyPem, 'ca.crt': ca.certPem, 'ca.key': ca.keyPem });
  const r = await startReplica({ recheckMs: 300 });
  t.after(() => r.close());
  await waitFor('ready', () => r.certs.ready() && r.tls.ready());
  assert.equal(r.served.length, 1);
  assert.notEqual(r.served[0], a.certPem, 'the broken pair was never served');
  assert.equal(new X509Certificate(r.served[0]!).checkIssued(new X509Certificate(ca.certPem)), true, 'the same CA signed the new one');
  assert.equal(await metricValue(r.metrics, 'camel_oci_certificate_rotations_total', { kind: 'rotate-serving' }), 1);
});

test('a trust set holding its CA twice is patched once, not every round', async (t) => {
  resetObjects();
  const ca = await generateCa({ commonName: 'doubled CA', validityDays: 365 });
  const cert = await issueServingCert(ca, { service: SERVICE, namespace: NS, validityDays: 30 });
  api.putSecret(NS, SECRET, { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem, 'ca.crt': ca.certPem + ca.certPem, 'ca.key': ca.keyPem });
  const before = api.requests.length;
  const r = await startReplica({ recheckMs: 300 });
  t.after(() => r.close());
  await waitFor('ready', () => r.certs.ready());
  await r.certs.reconcile();
  await r.certs.reconcile();
  const patches = api.requests.slice(before).filter((q) => q.method === 'PATCH');
  assert.equal(patches.length, 1, `${patches.length} patches`);
  assert.deepEqual(bundles(), [ca.certPem, ca.certPem]);
});

/** Fresh objects and one replica, ready, with a reconcile run to its end (closed after the test). */
async function settledReplica(t: { after(fn: () => Promise<void>): void }, recheckMs: number, log?: string[]): Promise<Replica> {
  resetObjects();
  const r = await startReplica({ recheckMs }, log);
  t.after(() => r.close());
  await waitFor('ready', () => r.certs.ready());
  await r.certs.reconcile();
  return r;
}

test('a bundle blanked that cannot be patched (403) makes the replica not ready until it is repaired', async (t) => {
  const r = await settledReplica(t, 300);
  api.failNext('PATCH', 403, 2);
  api.putWebhookConfiguration(webhookConfiguration());
  await r.certs.reconcile(); // reads the blank bundle, and its patch is refused
  assert.equal(r.certs.ready(), false, 'no call can reach a replica whose bundle is blank');
  await waitFor('repaired once the patch is allowed', () => r.certs.ready() && bundles().every((b) => b !== ''));
  assert.deepEqual(r.unverifiedServes, []);
});

test('a refresh that read the Secret before a rotation does not serve its older certificate after the reconcile served the new one', async (t) => {
  const r = await settledReplica(t, 200);
  const first = r.served.at(-1)!;
  // What another replica's rotation writes: a new CA and certificate.
  const ca2 = await generateCa({ commonName: 'CA 2', validityDays: 365 });
  const c2 = await issueServingCert(ca2, { service: SERVICE, namespace: NS, validityDays: 30 });
  const since = (n: number, method: string): number => api.requests.slice(n).filter((q) => q.method === method).length;
  // The reconcile waits on its patch of a blanked bundle; a refresh runs beside it every 200 ms.
  const releasePatch = api.holdNextAnswer('PATCH');
  const n0 = api.requests.length;
  api.putWebhookConfiguration(webhookConfiguration());
  void r.certs.reconcile();
  await waitFor('the patch sent', () => since(n0, 'PATCH') === 1);
  // The refresh's two reads: the Secret (the first certificate's), then the configuration.
  const releaseSecretRead = api.holdNextAnswer('GET');
  const releaseConfigRead = api.holdNextAnswer('GET');
  const n1 = api.requests.length;
  await waitFor('the refresh read the Secret', () => since(n1, 'GET') === 1);
  api.putSecret(NS, SECRET, { 'tls.crt': c2.certPem, 'tls.key': c2.keyPem, 'ca.crt': ca2.certPem, 'ca.key': ca2.keyPem });
  releaseSecretRead();
  await waitFor('the refresh read the configuration', () => since(n1, 'GET') === 2);
  releasePatch(); // the reconcile reads the new Secret, sets the bundle to CA 2 and serves c2
  await waitFor('the new certificate served', () => r.served.includes(c2.certPem));
  releaseConfigRead(); // the refresh's view, older than the reconcile's, comes back last
  await r.certs.reconcile();
  assert.deepEqual(
    r.served.map((c) => (c === first ? 'first' : c === c2.certPem ? 'c2' : 'other')),
    ['first', 'c2'],
  );
  assert.deepEqual(r.unverifiedServes, []);
});

test('a replica stopped while it generates keys leaves the Secret to the replicas that stay', async () => {
  resetObjects();
  const before = api.requests.length;
  const r = await startReplica();
  await r.close(); // at once: its first reconcile is reading, or generating the new CA
  assert.equal(api.secret(NS, SECRET), undefined, 'no Secret was written after stop()');
  assert.deepEqual(
    api.requests.slice(before).filter((q) => q.method !== 'GET'),
    [],
  );
});

test('stop() ends a request in flight at once, not at its 10 s timeout, and logs no failure for it', async (t) => {
  const log: string[] = [];
  const r = await settledReplica(t, 60_000, log);
  const release = api.holdNextAnswer('GET');
  t.after(release);
  const before = api.requests.length;
  const reconciled = r.certs.reconcile();
  await waitFor('the Secret read sent', () => api.requests.slice(before).some((q) => q.method === 'GET'));
  const logged = log.length;
  const outcome = await Promise.race([
    r.certs.stop().then(() => 'stopped'),
    new Promise<string>((resolve) => setTimeout(() => resolve('still waiting for the held answer'), 5_000).unref()),
  ]);
  assert.equal(outcome, 'stopped');
  await reconciled; // it ended with the stop, and without an unhandled failure
  assert.deepEqual(
    log.slice(logged).filter((line) => /failed/.test(line)),
    [],
    'a request ended by stop() is not a failure',
  );
  assert.ok(log.length > 0, 'the replica logs to the array (it logged its start)');
});
