/**
 * The separate plain-HTTP metrics port: the listener alone, and the built `camel-oci serve` with
 * `--metrics-port`, scraped without the webhook's CA while its registry is down.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { createLogger } from '../../src/base/logger.js';
import { exampleReview } from '../../src/webhook/example.js';
import { createMetrics } from '../../src/webhook/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../src/webhook/metrics-server.js';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { LOOPBACK, freePort } from '../helpers/ports.js';

/** A plain-HTTP request to 127.0.0.1; resolves with status, headers and body. */
function plain(
  port: number,
  pathname: string,
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, path: pathname, method, timeout: 10_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line `name{labels} value` in exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the metrics listener', () => {
  let server: MetricsServer;
  before(async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.registryNoResponse('registry.example.com', 'UNAVAILABLE');
    server = await startMetricsServer(metrics, createLogger({ level: 'silent' }), 0, LOOPBACK);
  });
  after(() => server.close());

  it('serves GET /metrics in the exposition format, over plain HTTP', async () => {
    const res = await plain(server.port, '/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.equal(sample(res.body, 'camel_oci_registry_requests_total{registry="registry.example.com",code="none"}'), 1);
    const head = await plain(server.port, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('serves nothing else: no admission path, no probes, no other methods', async () => {
    assert.equal((await plain(server.port, '/mutate', 'POST')).status, 404);
    assert.equal((await plain(server.port, '/healthz')).status, 404);
    assert.equal((await plain(server.port, '/metrics/')).status, 404);
    const post = await plain(server.port, '/metrics', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('refuses a port already taken with CONFIG_INVALID naming the flag', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    await assert.rejects(
      startMetricsServer(metrics, createLogger({ level: 'silent' }), server.port, LOOPBACK),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.match(err.message, /--metrics-port: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
        return true;
      },
    );
  });
});

describe('camel-oci serve --metrics-port with its registry down', () => {
  let tmp: string;
  let port: number;
  let metricsPort: number;
  let deadRegistry: string;
  let deadMirror: string;
  let serve: CliProcess;
  let client: Agent;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-metrics-port-'));
    port = await freePort();
    metricsPort = await freePort();
    // A loopback port nobody listens on: every connect is refused, as for a registry that is down.
    deadRegistry = `127.0.0.1:${await freePort()}`;
    deadMirror = `127.0.0.1:${await freePort()}`;
    serve = startCli(
      [
        'serve',
        '--port',
        String(port),
        '--address',
        LOOPBACK,
        '--certs-dir',
        path.join(tmp, 'certs'),
        '--shutdown-delay',
        '0s',
        '--metrics-port',
        String(metricsPort),
        '--allow-registry',
        `${deadRegistry},${deadMirror}`,
        '--insecure-registry',
        `${deadRegistry},${deadMirror}`,
        // A mirror that is down too: tried first, worked around, and counted.
        '--registry-mirror',
        `${deadRegistry}=${deadMirror}`,
        '--pull-secrets',
        'false',
      ],
      { cwd: tmp },
    );
    const until = Date.now() + 15_000;
    while (!serve.output().includes('Stop with Ctrl-C.')) {
      if (Date.now() > until) throw new Error(`serve did not start:\n${serve.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    client = new Agent({ connect: { ca: await readFile(path.join(tmp, 'certs', 'ca.crt'), 'utf8'), servername: 'localhost' } });
  });

  after(async () => {
    await client?.close();
    await serve?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('shows the unreachable registry and mirror, the denial reason, the build and the certificate expiry on the plain port', async () => {
    const res = await request(`https://${LOOPBACK}:${port}/mutate?timeout=10s`, {
      dispatcher: client,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(exampleReview(`${deadRegistry}/acme/deps:1.0`)),
    });
    const review = (await res.body.json()) as { response: { allowed: boolean } };
    assert.equal(res.statusCode, 200);
    assert.equal(review.response.allowed, false);

    const scrape = await plain(metricsPort, '/metrics');
    assert.equal(scrape.status, 200);
    const text = scrape.body;
    assert.ok((sample(text, `camel_oci_registry_requests_total{registry="${deadRegistry}",code="none"}`) ?? 0) >= 1, text);
    assert.ok((sample(text, `camel_oci_registry_request_errors_total{registry="${deadRegistry}",error="UNAVAILABLE"}`) ?? 0) >= 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="denied",kind="Pod",reason="UNAVAILABLE"}'), 1);
    assert.ok(
      (sample(text, `camel_oci_registry_source_failures_total{registry="${deadMirror}",source="mirror",code="UNAVAILABLE"}`) ?? 0) >= 1,
      text,
    );
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(sample(text, `camel_oci_build_info{version="${pkg.version}",node="${process.versions.node}"}`), 1);
    const expiry = sample(text, 'camel_oci_serving_certificate_expiry_timestamp_seconds');
    assert.ok(expiry !== undefined && expiry > Date.now() / 1000, `expiry ${String(expiry)}`);
    // The HTTPS port keeps GET /metrics for scrapers that already use it.
    const legacy = await request(`https://${LOOPBACK}:${port}/metrics`, { dispatcher: client });
    assert.equal(legacy.statusCode, 200);
    assert.match(await legacy.body.text(), /camel_oci_build_info/);
  });
});
